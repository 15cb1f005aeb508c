using System.Text;

namespace Provisioning.Device.Tpm;

/// <summary>Reads a hierarchy password (or any TPM authValue) written the way tpm2-tools takes one, plus <c>env:NAME</c>, so
/// a secret need not sit on a command line.</summary>
/// <remarks>
/// Forms: <c>str:&lt;text&gt;</c> (UTF-8; also what a value without a prefix means, as in tpm2-tools), <c>hex:&lt;hex digits&gt;</c>,
/// <c>file:&lt;path&gt;</c> (the file's bytes, as they are: a trailing newline is part of the password, as with tpm2-tools),
/// <c>env:&lt;NAME&gt;</c> (the variable's value as UTF-8 text). Errors name the option and the form, never the value.
/// </remarks>
public static class TpmAuthValue
{
    /// <summary>The longest authValue accepted: a TPM takes at most the size of its largest digest (64 bytes for SHA-512).</summary>
    public const int MaxSize = 64;

    /// <summary>Parses <paramref name="value"/>.</summary>
    /// <param name="value">The password in one of the forms above.</param>
    /// <param name="option">What the value was given as, for error messages (e.g. <c>--owner-auth</c>).</param>
    /// <returns>The password bytes; the caller should zero them when done.</returns>
    /// <exception cref="ArgumentException">The value is malformed, too long, or names a variable or file that cannot be read.</exception>
    public static byte[] Parse(string value, string option = "the password")
    {
        ArgumentNullException.ThrowIfNull(value);
        ArgumentNullException.ThrowIfNull(option);
        byte[] bytes;
        if (value.StartsWith("hex:", StringComparison.Ordinal))
        {
            var hex = value.AsSpan(4);
            if (hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            {
                hex = hex[2..];
            }

            try
            {
                bytes = Convert.FromHexString(hex);
            }
            catch (FormatException)
            {
                throw new ArgumentException($"{option}: the hex: form needs an even number of hexadecimal digits.", nameof(value));
            }
        }
        else if (value.StartsWith("file:", StringComparison.Ordinal))
        {
            var path = value[5..];
            if (path.Length == 0)
            {
                throw new ArgumentException($"{option}: the file: form needs a path.", nameof(value));
            }

            var info = new FileInfo(path);
            if (!info.Exists)
            {
                throw new ArgumentException($"{option}: the file '{path}' does not exist.", nameof(value));
            }

            if (info.Length > MaxSize)
            {
                throw new ArgumentException($"{option}: the file '{path}' holds {info.Length} bytes; a TPM password is at most {MaxSize}.", nameof(value));
            }

            try
            {
                bytes = File.ReadAllBytes(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"{option}: the file '{path}' cannot be read ({e.GetType().Name}).", nameof(value));
            }
        }
        else if (value.StartsWith("env:", StringComparison.Ordinal))
        {
            var name = value[4..];
            if (name.Length == 0)
            {
                throw new ArgumentException($"{option}: the env: form needs a variable name.", nameof(value));
            }

            var text = Environment.GetEnvironmentVariable(name)
                ?? throw new ArgumentException($"{option}: the environment variable {name} is not set.", nameof(value));
            bytes = Encoding.UTF8.GetBytes(text);
        }
        else
        {
            bytes = Encoding.UTF8.GetBytes(value.StartsWith("str:", StringComparison.Ordinal) ? value[4..] : value);
        }

        if (bytes.Length > MaxSize)
        {
            var length = bytes.Length;
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(bytes);
            throw new ArgumentException($"{option} is {length} bytes long; a TPM password is at most {MaxSize}.", nameof(value));
        }

        return bytes;
    }
}

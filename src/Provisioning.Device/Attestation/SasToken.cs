using System.Buffers;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Provisioning.Device;

/// <summary>Builds <c>SharedAccessSignature sr=…&amp;sig=…&amp;se=…[&amp;skn=…]</c> tokens: the one builder of DPS tokens and of the
/// hub's device tokens (Provisioning.Device.Hub compiles this file too, as a linked source).</summary>
/// <remarks>
/// dps-protocol.md §2.4, §3 and §8: <c>sr</c> is the URL-encoded resource (upper-case escapes, <c>%2F</c>), the string to
/// sign is <c>sr + "\n" + se</c> (the encoded form), and the base64 HMAC-SHA256 is URL-encoded into <c>sig</c>.
/// </remarks>
internal static class SasToken
{
    /// <summary>The hub's device token resource before the outer encoding: <c>{hub}/devices/{UrlEncode(deviceId)}</c> (§8).</summary>
    public static string HubResource(string hubHostName, string deviceId) => $"{hubHostName}/devices/{Uri.EscapeDataString(deviceId)}";

#if !PROVISIONING_HUB // compiled into Provisioning.Device.Hub too, where the attestation's signer is not visible
    public static ValueTask<string> CreateAsync(
        ProvisioningAttestation signer, string resource, DateTimeOffset expiresOn, string? keyName, CancellationToken cancellationToken) =>
        CreateAsync(signer.SignAsync, resource, expiresOn, keyName, cancellationToken);
#endif

    /// <param name="sign">Returns HMAC-SHA256 of the data with the key; the result is zeroed here.</param>
    /// <param name="resource">The resource, unencoded.</param>
    /// <param name="expiresOn">The expiry, sent as Unix seconds.</param>
    /// <param name="keyName">The <c>skn</c>, or <see langword="null"/> for none (the hub's tokens).</param>
    /// <param name="cancellationToken">Cancels the signing.</param>
    /// <exception cref="CryptographicException">The signer returned something other than an HMAC-SHA256.</exception>
    public static async ValueTask<string> CreateAsync(
        Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask<byte[]>> sign, string resource, DateTimeOffset expiresOn, string? keyName,
        CancellationToken cancellationToken)
    {
        string sr = Uri.EscapeDataString(resource);
        long se = expiresOn.ToUnixTimeSeconds();
        // The string to sign, sr + "\n" + se: ASCII (sr is escaped), in a pooled buffer rather than two strings and an array.
        byte[] toSign = ArrayPool<byte>.Shared.Rent(sr.Length + 22);
        int length = Encoding.ASCII.GetBytes(sr, toSign);
        toSign[length++] = (byte)'\n';
        se.TryFormat(toSign.AsSpan(length), out int seLength, default, CultureInfo.InvariantCulture);
        length += seLength;
        byte[] signature;
        try
        {
            signature = await sign(toSign.AsMemory(0, length), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(toSign);
        }

        try
        {
            if (signature.Length != HMACSHA256.HashSizeInBytes)
            {
                throw new CryptographicException($"The signer returned {signature.Length} bytes; HMAC-SHA256 has {HMACSHA256.HashSizeInBytes}.");
            }

            return Compose(sr, signature, se, keyName is null ? null : Uri.EscapeDataString(keyName));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(signature);
        }
    }

    /// <summary><c>SharedAccessSignature sr={sr}&amp;sig={UrlEncode(base64(signature))}&amp;se={se}[&amp;skn={skn}]</c>, built on the stack
    /// into the one string returned.</summary>
    private static string Compose(string sr, ReadOnlySpan<byte> signature, long se, string? skn)
    {
        // 32 bytes are 44 base64 characters, at most 3 each once escaped; se is at most 20 digits.
        Span<char> sig = stackalloc char[44 + (44 * 3)];
        Convert.TryToBase64Chars(signature, sig, out int base64Length);
        Uri.TryEscapeDataString(sig[..base64Length], sig[44..], out int sigLength);
        int total = 25 + sr.Length + 5 + sigLength + 4 + 20 + (skn is null ? 0 : 5 + skn.Length);
        char[]? rented = total > 512 ? ArrayPool<char>.Shared.Rent(total) : null;
        Span<char> token = rented ?? stackalloc char[512];
        try
        {
            int at = 0;
            Append(token, ref at, "SharedAccessSignature sr=");
            Append(token, ref at, sr);
            Append(token, ref at, "&sig=");
            Append(token, ref at, sig.Slice(44, sigLength));
            Append(token, ref at, "&se=");
            se.TryFormat(token[at..], out int written, default, CultureInfo.InvariantCulture);
            at += written;
            if (skn is not null)
            {
                Append(token, ref at, "&skn=");
                Append(token, ref at, skn);
            }

            return new string(token[..at]);
        }
        finally
        {
            token.Clear();
            sig.Clear();
            if (rented is not null)
            {
                ArrayPool<char>.Shared.Return(rented);
            }
        }
    }

    private static void Append(Span<char> target, ref int at, ReadOnlySpan<char> text)
    {
        text.CopyTo(target[at..]);
        at += text.Length;
    }
}

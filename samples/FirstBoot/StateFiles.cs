using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Samples.FirstBoot;

/// <summary>The state folder: readable by its owner only, since it holds a TPM's state and device keys.</summary>
internal static class StateFiles
{
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary><c>~/.provisioning-device/firstboot</c>, or the folder given.</summary>
    /// <remarks>The home folder is taken even when it does not exist yet (it is created); with no home at all the state
    /// would land in the working directory, so that is refused.</remarks>
    public static string Resolve(string? given)
    {
        if (given is not null)
        {
            return Path.GetFullPath(given);
        }

        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile, Environment.SpecialFolderOption.DoNotVerify);
        if (string.IsNullOrEmpty(home))
        {
            throw new InvalidOperationException("No home folder is known (HOME is not set): give the state folder with --state <dir>.");
        }

        return Path.Combine(home, ".provisioning-device", "firstboot");
    }

    public static void EnsureDirectory(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
            return;
        }

        Directory.CreateDirectory(path, OwnerOnlyDirectory);

        // A folder made earlier by hand keeps only its owner's rights too.
        File.SetUnixFileMode(path, OwnerOnlyDirectory);
    }

    public static async Task<string> ReadOrCreateTextAsync(string path, Func<string> create, CancellationToken cancellationToken)
    {
        if (File.Exists(path))
        {
            return (await File.ReadAllTextAsync(path, cancellationToken).ConfigureAwait(false)).Trim();
        }

        var text = create();
        await WriteOwnerOnlyAsync(path, System.Text.Encoding.UTF8.GetBytes(text), cancellationToken).ConfigureAwait(false);
        return text;
    }

    /// <summary>A self-signed ECDSA device certificate whose CN is the registration id, made once.</summary>
    public static async Task<X509Certificate2> ReadOrCreateCertificateAsync(string path, string commonName, CancellationToken cancellationToken)
    {
        if (File.Exists(path))
        {
            return X509CertificateLoader.LoadPkcs12(await File.ReadAllBytesAsync(path, cancellationToken).ConfigureAwait(false), password: null);
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + commonName, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        var now = DateTimeOffset.UtcNow;
        using var created = request.CreateSelfSigned(now.AddMinutes(-5), now.AddYears(2));
        var pfx = created.Export(X509ContentType.Pfx);
        try
        {
            await WriteOwnerOnlyAsync(path, pfx, cancellationToken).ConfigureAwait(false);
            return X509CertificateLoader.LoadPkcs12(pfx, password: null);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(pfx);
        }
    }

    private static async Task WriteOwnerOnlyAsync(string path, byte[] bytes, CancellationToken cancellationToken)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnlyFile;
        }

        var stream = new FileStream(path, options);
        await using (stream.ConfigureAwait(false))
        {
            await stream.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }
    }
}

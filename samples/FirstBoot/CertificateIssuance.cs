using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

using Provisioning.Device;

namespace Provisioning.Samples.FirstBoot;

/// <summary><c>--csr</c>: the certificate key (in the TPM, or a key file beside the registration cache) and what the
/// <c>--json</c> report says of the issued certificate (dps-protocol.md §9).</summary>
internal static class CertificateIssuance
{
    /// <summary>Opens (or creates) the certificate key where <c>--key-location</c> puts it. Default: the TPM when the device
    /// attests with a TPM OpenSSL's provider can reach (device, swtpm, mssim), else a software key file.</summary>
    public static async Task<CertificateSigningKey> OpenKeyAsync(FirstBootOptions options, DeviceIdentity identity, string cachePath, CancellationToken cancellationToken)
    {
        var algorithm = options.Csr ?? CertificateKeyAlgorithm.EccP256;
        var inTpm = options.KeyLocation switch
        {
            CertificateKeyLocation.Tpm => true,
            CertificateKeyLocation.Software => false,
            _ => identity.Tpm is not null && identity.TpmSpec is { } spec && !spec.StartsWith("software", StringComparison.OrdinalIgnoreCase),
        };
        if (inTpm)
        {
            return await TpmCertificateKey.OpenAsync(identity.Tpm!, algorithm, transportSpec: identity.TpmSpec, cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        var keyPath = Path.Combine(Path.GetDirectoryName(cachePath)!, Path.GetFileNameWithoutExtension(cachePath).Replace("-registration", string.Empty, StringComparison.Ordinal) + "-certificate-key.p8");
        return await SoftwareCertificateKey.LoadOrCreateAsync(keyPath, algorithm, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Where the key lives, in words.</summary>
    public static string Describe(CertificateSigningKey key) => key switch
    {
        TpmCertificateKey tpm => $"{key.Algorithm} key in the TPM at 0x{tpm.Handle:X8}",
        SoftwareCertificateKey { Path: { } path } => $"{key.Algorithm} key in {path} (owner-only)",
        _ => $"{key.Algorithm} key in memory",
    };

    public static IssuedCertificateReport Report(DeviceRegistrationResult result)
    {
        using var leaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(result.IssuedCertificateChain[0]));
        return new IssuedCertificateReport
        {
            Subject = leaf.Subject,
            Thumbprint = leaf.GetCertHashString(HashAlgorithmName.SHA256),
            NotAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime()),
            KeyLocation = result.CertificateSigningKey?.Location == CertificateKeyLocation.Tpm ? "tpm" : "software",
        };
    }
}

/// <summary>The <c>issuedCertificate</c> of the <c>--json</c> report.</summary>
internal sealed class IssuedCertificateReport
{
    public required string Subject { get; init; }

    /// <summary>SHA-256, upper-case hex.</summary>
    public required string Thumbprint { get; init; }

    public required DateTimeOffset NotAfter { get; init; }

    /// <summary><c>tpm</c> or <c>software</c>.</summary>
    public required string KeyLocation { get; init; }
}

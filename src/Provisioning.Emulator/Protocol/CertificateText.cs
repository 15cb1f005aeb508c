using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

using Provisioning.Emulator.Json;

namespace Provisioning.Emulator.Protocol;

/// <summary>Certificates as the service API carries them (base64 DER or PEM text) and as DPS describes them.</summary>
internal static class CertificateText
{
    /// <summary>Loads a base64 DER or PEM certificate; null when the text is neither.</summary>
    public static X509Certificate2? TryLoad(string text)
    {
        try
        {
            if (text.Contains("-----BEGIN", StringComparison.Ordinal))
            {
                return X509Certificate2.CreateFromPem(text);
            }

            return X509CertificateLoader.LoadCertificate(Convert.FromBase64String(text));
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>The <c>X509CertificateInfo</c> of a certificate (dps-protocol.md §1.6).</summary>
    public static X509CertificateInfo Describe(X509Certificate2 certificate) => new()
    {
        SubjectName = certificate.Subject,
        Sha1Thumbprint = certificate.Thumbprint,
        Sha256Thumbprint = Sha256Thumbprint(certificate),
        IssuerName = certificate.Issuer,
        NotBeforeUtc = certificate.NotBefore.ToUniversalTime(),
        NotAfterUtc = certificate.NotAfter.ToUniversalTime(),
        SerialNumber = certificate.SerialNumber,
        Version = certificate.Version,
    };

    /// <summary>The SHA-256 thumbprint, upper-case hex (the hub registry's form).</summary>
    public static string Sha256Thumbprint(X509Certificate2 certificate) =>
        certificate.GetCertHashString(HashAlgorithmName.SHA256).ToUpper(CultureInfo.InvariantCulture);
}

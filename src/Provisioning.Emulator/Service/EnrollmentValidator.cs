using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Service;

/// <summary>Checks a service-API attestation and fills what the service fills (generated keys, certificate info).</summary>
internal sealed class EnrollmentValidator(IReadOnlyDictionary<string, string> caCertificates)
{
    /// <summary>Returns null when the attestation is usable (after normalizing it), else the reason it is not.</summary>
    public string? Normalize(AttestationMechanism? attestation, bool group)
    {
        switch (attestation?.Type)
        {
            case "symmetricKey":
                attestation.SymmetricKey ??= new SymmetricKeyAttestation();
                attestation.SymmetricKey.PrimaryKey ??= EnrollmentFactory.NewKey();
                attestation.SymmetricKey.SecondaryKey ??= EnrollmentFactory.NewKey();
                return ValidKey(attestation.SymmetricKey.PrimaryKey) && ValidKey(attestation.SymmetricKey.SecondaryKey)
                    ? null : "A symmetric key must be base64 of 16 to 64 bytes.";
            case "tpm":
                if (group)
                {
                    return "Enrollment groups do not support TPM attestation.";
                }

                return Device.DeviceAuthenticator.Decode(attestation.Tpm?.EndorsementKey) is { Length: > 0 } ? null : "A TPM attestation needs a base64 endorsementKey.";
            case "x509":
                var x509 = attestation.X509;
                if (x509?.CaReferences is { } refs)
                {
                    var primary = refs.Primary is { } p && caCertificates.TryGetValue(p, out var pc) ? pc : null;
                    if (primary is null)
                    {
                        return "The CA reference is not a certificate known to the emulator.";
                    }

                    x509.SigningCertificates = new X509Certificates { Primary = new X509CertificateWithInfo { Certificate = primary } };
                }

                var set = group ? x509?.SigningCertificates : x509?.ClientCertificates;
                if (set?.Primary?.Certificate is null)
                {
                    return group ? "An X.509 group needs signingCertificates or caReferences." : "An X.509 enrollment needs clientCertificates.";
                }

                foreach (var entry in new[] { set.Primary, set.Secondary })
                {
                    if (entry?.Certificate is { } text)
                    {
                        using var cert = CertificateText.TryLoad(text);
                        if (cert is null)
                        {
                            return "A certificate is neither base64 DER nor PEM.";
                        }

                        try
                        {
                            entry.Info = CertificateText.Describe(cert);
                        }
                        catch (System.Security.Cryptography.CryptographicException)
                        {
                            // The DER loads but a field (e.g. a validity date) does not decode: a 400, not a 500.
                            return "A certificate has fields that cannot be read (such as its validity dates).";
                        }
                    }
                }

                return null;
            default:
                return "attestation.type must be tpm, x509 or symmetricKey.";
        }
    }

    private static bool ValidKey(string key) => Device.DeviceAuthenticator.Decode(key) is { Length: >= 16 and <= 64 };
}

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

                return CheckTpmKeys(attestation.Tpm);
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

    /// <summary>The attestation (normalized in place) and the optional fields of an individual enrollment, as the service API
    /// and the seed file both check them; returns the problem, naming the field, or null.</summary>
    public string? Validate(IndividualEnrollment enrollment) =>
        Normalize(enrollment.Attestation, group: false) ?? CheckOptionalFields(enrollment);

    /// <inheritdoc cref="Validate(IndividualEnrollment)"/>
    public string? Validate(EnrollmentGroup group) =>
        Normalize(group.Attestation, group: true) ?? CheckOptionalFields(group);

    /// <summary>
    /// The optional fields the emulator keeps and returns without acting on them: <c>optionalDeviceInformation</c> a JSON
    /// object; <c>credentialPolicyName</c>, <c>clientCertificateIssuancePolicy.certificateAuthorityName</c> and
    /// <c>trustBundleId</c> names of 1 to 128 characters, none a control character (the emulator's rule: the service's is
    /// not public). Returns the problem, naming the field, or null.
    /// </summary>
    public static string? CheckOptionalFields(IndividualEnrollment enrollment) =>
        CheckNames(enrollment.CredentialPolicyName, enrollment.ClientCertificateIssuancePolicy, enrollment.TrustBundleId)
        ?? (enrollment.OptionalDeviceInformation is { ValueKind: not (System.Text.Json.JsonValueKind.Object or System.Text.Json.JsonValueKind.Null) }
            ? "optionalDeviceInformation must be a JSON object (a twin collection)." : null);

    /// <inheritdoc cref="CheckOptionalFields(IndividualEnrollment)"/>
    public static string? CheckOptionalFields(EnrollmentGroup group) =>
        CheckNames(group.CredentialPolicyName, group.ClientCertificateIssuancePolicy, group.TrustBundleId);

    private const int MaxNameLength = 128;

    private static string? CheckNames(string? credentialPolicyName, ClientCertificateIssuancePolicy? issuance, string? trustBundleId)
    {
        foreach (var (field, value) in new[] { ("credentialPolicyName", credentialPolicyName), ("clientCertificateIssuancePolicy.certificateAuthorityName", issuance?.CertificateAuthorityName), ("trustBundleId", trustBundleId) })
        {
            if (value is not null && (value.Length is 0 or > MaxNameLength || value.Any(char.IsControl)))
            {
                return $"{field} must be 1 to {MaxNameLength} characters, none a control character.";
            }
        }

        return null;
    }

    /// <summary>
    /// The EK must be what a device will present: a TPM2B_PUBLIC of an RSA-2048 key of the TCG EK template (and the SRK,
    /// when given, of the SRK template), so a random or truncated key is refused when enrolled, not when the device registers.
    /// </summary>
    private static string? CheckTpmKeys(TpmAttestationBody? tpm)
    {
        if (Device.DeviceAuthenticator.Decode(tpm?.EndorsementKey) is not { Length: > 0 } ek)
        {
            return "attestation.tpm.endorsementKey must be base64 of the TPM2B_PUBLIC of the device's endorsement key.";
        }

        try
        {
            Tpm.TpmDeviceKey.Parse(ek, Tpm.TpmDeviceKeyRole.Endorsement);
            if (tpm!.StorageRootKey is { } srkText)
            {
                var srk = Device.DeviceAuthenticator.Decode(srkText)
                    ?? throw new Tpm.TpmAttestationRejectedException("The SRK is not base64.");
                Tpm.TpmDeviceKey.Parse(srk, Tpm.TpmDeviceKeyRole.StorageRoot);
            }

            return null;
        }
        catch (Tpm.TpmAttestationRejectedException ex)
        {
            return "attestation.tpm must hold a TPM 2.0 RSA-2048 endorsement key of the TCG EK template (TPM2B_PUBLIC, base64): " + ex.Message;
        }
    }

    private static bool ValidKey(string key) => Device.DeviceAuthenticator.Decode(key) is { Length: >= 16 and <= 64 };
}

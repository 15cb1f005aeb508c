using System.Text.Json;

namespace Provisioning.Emulator.Json;

/// <summary>The device's register / status-lookup body (dps-protocol.md §1.3).</summary>
internal sealed class DeviceRegistrationRequest
{
    public string? RegistrationId { get; set; }

    public TpmAttestationBody? Tpm { get; set; }

    public JsonElement? Payload { get; set; }

    public string? Csr { get; set; }
}

/// <summary>The <c>tpm</c> object of a device request: EK and SRK as base64 TPM2B_PUBLIC.</summary>
internal sealed class TpmAttestationBody
{
    public string? EndorsementKey { get; set; }

    public string? StorageRootKey { get; set; }
}

/// <summary>The 401 TPM challenge body (dps-protocol.md §1.4): no <c>status</c>.</summary>
internal sealed class TpmChallengeBody
{
    public string? Message { get; set; }

    public string? AuthenticationKey { get; set; }

    public string? KeyName { get; set; }
}

/// <summary>The body of a PUT register and GET operation answer (dps-protocol.md §1.5).</summary>
internal sealed class RegistrationOperationStatus
{
    public string? OperationId { get; set; }

    public string? Status { get; set; }

    public DeviceRegistrationResult? RegistrationState { get; set; }
}

/// <summary>The device-visible registration state (dps-protocol.md §1.6).</summary>
internal sealed class DeviceRegistrationResult
{
    public string? RegistrationId { get; set; }

    public DateTime? CreatedDateTimeUtc { get; set; }

    public string? AssignedHub { get; set; }

    public string? DeviceId { get; set; }

    public string? Status { get; set; }

    public string? Substatus { get; set; }

    public int? ErrorCode { get; set; }

    public string? ErrorMessage { get; set; }

    public DateTime? LastUpdatedDateTimeUtc { get; set; }

    public string? Etag { get; set; }

    public string? GenerationId { get; set; }

    public JsonElement? Payload { get; set; }

    public TpmRegistrationResult? Tpm { get; set; }

    public X509RegistrationResult? X509 { get; set; }

    public SymmetricKeyRegistrationResult? SymmetricKey { get; set; }

    /// <summary>The issued certificate chain (leaf first) when the device sent a <c>csr</c> (2025-07-01-preview).</summary>
    public List<string>? IssuedCertificateChain { get; set; }
}

/// <summary><c>registrationState.tpm</c>: the fresh activation blob of the hub key.</summary>
internal sealed class TpmRegistrationResult
{
    public string? AuthenticationKey { get; set; }
}

/// <summary><c>registrationState.x509</c>.</summary>
internal sealed class X509RegistrationResult
{
    public X509CertificateInfo? CertificateInfo { get; set; }

    public string? EnrollmentGroupId { get; set; }

    public X509CertificateInfo? SigningCertificateInfo { get; set; }
}

/// <summary><c>registrationState.symmetricKey</c>.</summary>
internal sealed class SymmetricKeyRegistrationResult
{
    public string? EnrollmentGroupId { get; set; }
}

/// <summary>Certificate facts as DPS reports them (dps-protocol.md §1.6).</summary>
internal sealed class X509CertificateInfo
{
    public string? SubjectName { get; set; }

    public string? Sha1Thumbprint { get; set; }

    public string? Sha256Thumbprint { get; set; }

    public string? IssuerName { get; set; }

    public DateTime? NotBeforeUtc { get; set; }

    public DateTime? NotAfterUtc { get; set; }

    public string? SerialNumber { get; set; }

    public int? Version { get; set; }
}

/// <summary>The DPS error body (dps-protocol.md §1.7).</summary>
internal sealed class DpsErrorBody
{
    public int ErrorCode { get; set; }

    public string? TrackingId { get; set; }

    public string? Message { get; set; }

    public DateTime TimestampUtc { get; set; }

    public Dictionary<string, string>? Info { get; set; }
}

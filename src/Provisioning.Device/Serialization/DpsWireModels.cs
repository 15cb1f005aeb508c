using System.Text.Json;

namespace Provisioning.Device.Serialization;

// The JSON shapes DPS answers with (dps-protocol.md §1.4–§1.7). Every field is optional on the wire; the reader
// checks what each response kind requires and reports what was missing.

internal sealed class DpsOperationStatusWire
{
    public string? OperationId { get; set; }

    public string? Status { get; set; }

    public DpsRegistrationStateWire? RegistrationState { get; set; }
}

internal sealed class DpsRegistrationStateWire
{
    public string? RegistrationId { get; set; }

    public DateTimeOffset? CreatedDateTimeUtc { get; set; }

    public string? AssignedHub { get; set; }

    public string? DeviceId { get; set; }

    public string? Status { get; set; }

    public string? Substatus { get; set; }

    public string? GenerationId { get; set; }

    public DateTimeOffset? LastUpdatedDateTimeUtc { get; set; }

    public int? ErrorCode { get; set; }

    public string? ErrorMessage { get; set; }

    public string? Etag { get; set; }

    public JsonElement? Payload { get; set; }

    public DpsTpmResultWire? Tpm { get; set; }

    public DpsX509ResultWire? X509 { get; set; }

    public DpsSymmetricKeyResultWire? SymmetricKey { get; set; }

    public List<string>? IssuedCertificateChain { get; set; }
}

internal sealed class DpsTpmResultWire
{
    public string? AuthenticationKey { get; set; }
}

internal sealed class DpsX509ResultWire
{
    public DpsCertificateInfoWire? CertificateInfo { get; set; }

    public string? EnrollmentGroupId { get; set; }

    public DpsCertificateInfoWire? SigningCertificateInfo { get; set; }
}

internal sealed class DpsCertificateInfoWire
{
    public string? SubjectName { get; set; }

    public string? Sha1Thumbprint { get; set; }

    public string? Sha256Thumbprint { get; set; }

    public string? IssuerName { get; set; }

    public DateTimeOffset? NotBeforeUtc { get; set; }

    public DateTimeOffset? NotAfterUtc { get; set; }

    public string? SerialNumber { get; set; }

    public int? Version { get; set; }
}

internal sealed class DpsSymmetricKeyResultWire
{
    public string? EnrollmentGroupId { get; set; }
}

/// <summary>The error body (§1.7) and the TPM challenge body (§1.4), which share the 4xx responses.</summary>
internal sealed class DpsErrorWire
{
    public int? ErrorCode { get; set; }

    public string? TrackingId { get; set; }

    public string? Message { get; set; }

    public string? AuthenticationKey { get; set; }

    public string? KeyName { get; set; }
}

/// <summary>What the file registration cache stores.</summary>
internal sealed class CachedRegistrationWire
{
    public string? IdScope { get; set; }

    public string? RegistrationId { get; set; }

    public string? AssignedHub { get; set; }

    public string? DeviceId { get; set; }

    public DateTimeOffset? RegisteredAt { get; set; }

    public string? JsonPayload { get; set; }

    public List<string>? IssuedCertificateChain { get; set; }
}

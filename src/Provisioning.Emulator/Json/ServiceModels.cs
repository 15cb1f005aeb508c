using System.Text.Json;

namespace Provisioning.Emulator.Json;

/// <summary>An individual enrollment in the service API shape (api-version 2021-10-01); also the stored form.</summary>
internal sealed class IndividualEnrollment
{
    public string? RegistrationId { get; set; }

    public string? DeviceId { get; set; }

    public DeviceRegistrationState? RegistrationState { get; set; }

    public AttestationMechanism? Attestation { get; set; }

    public DeviceCapabilities? Capabilities { get; set; }

    public string? IotHubHostName { get; set; }

    public JsonElement? InitialTwin { get; set; }

    public string? Etag { get; set; }

    public string? ProvisioningStatus { get; set; }

    public ReprovisionPolicy? ReprovisionPolicy { get; set; }

    public DateTime? CreatedDateTimeUtc { get; set; }

    public DateTime? LastUpdatedDateTimeUtc { get; set; }

    public string? AllocationPolicy { get; set; }

    public List<string>? IotHubs { get; set; }

    public CustomAllocationDefinition? CustomAllocationDefinition { get; set; }

    /// <summary>The CLI's <c>--device-information</c> (2021-10-01): a JSON object kept and returned as given.</summary>
    public JsonElement? OptionalDeviceInformation { get; set; }

    /// <summary>The linked Azure Device Registry credential policy (2025-07-01-preview service SDK).</summary>
    public string? CredentialPolicyName { get; set; }

    /// <summary>2021-11-01-preview service SDK: the certificate authority that issues the device's certificate.</summary>
    public ClientCertificateIssuancePolicy? ClientCertificateIssuancePolicy { get; set; }

    /// <summary>2021-11-01-preview service SDK: the trust bundle returned to the device.</summary>
    public string? TrustBundleId { get; set; }
}

/// <summary><c>clientCertificateIssuancePolicy</c> (2021-11-01-preview).</summary>
internal sealed class ClientCertificateIssuancePolicy
{
    public string? CertificateAuthorityName { get; set; }
}

/// <summary>An enrollment group in the service API shape; also the stored form.</summary>
internal sealed class EnrollmentGroup
{
    public string? EnrollmentGroupId { get; set; }

    public AttestationMechanism? Attestation { get; set; }

    public DeviceCapabilities? Capabilities { get; set; }

    public string? IotHubHostName { get; set; }

    public JsonElement? InitialTwin { get; set; }

    public string? Etag { get; set; }

    public string? ProvisioningStatus { get; set; }

    public ReprovisionPolicy? ReprovisionPolicy { get; set; }

    public DateTime? CreatedDateTimeUtc { get; set; }

    public DateTime? LastUpdatedDateTimeUtc { get; set; }

    public string? AllocationPolicy { get; set; }

    public List<string>? IotHubs { get; set; }

    public CustomAllocationDefinition? CustomAllocationDefinition { get; set; }

    /// <summary>The linked Azure Device Registry credential policy (2025-07-01-preview service SDK).</summary>
    public string? CredentialPolicyName { get; set; }

    /// <summary>2021-11-01-preview service SDK: the certificate authority that issues the devices' certificates.</summary>
    public ClientCertificateIssuancePolicy? ClientCertificateIssuancePolicy { get; set; }

    /// <summary>2021-11-01-preview service SDK: the trust bundle returned to the devices.</summary>
    public string? TrustBundleId { get; set; }
}

/// <summary><c>attestation</c>: <c>type</c> is <c>tpm</c>, <c>x509</c> or <c>symmetricKey</c>.</summary>
internal sealed class AttestationMechanism
{
    public string? Type { get; set; }

    public TpmAttestationBody? Tpm { get; set; }

    public X509Attestation? X509 { get; set; }

    public SymmetricKeyAttestation? SymmetricKey { get; set; }
}

/// <summary><c>attestation.x509</c>.</summary>
internal sealed class X509Attestation
{
    public X509Certificates? ClientCertificates { get; set; }

    public X509Certificates? SigningCertificates { get; set; }

    public X509CaReferences? CaReferences { get; set; }
}

/// <summary>A primary/secondary certificate pair.</summary>
internal sealed class X509Certificates
{
    public X509CertificateWithInfo? Primary { get; set; }

    public X509CertificateWithInfo? Secondary { get; set; }
}

/// <summary>A certificate as uploaded (base64 DER or PEM) and its facts as reported back.</summary>
internal sealed class X509CertificateWithInfo
{
    public string? Certificate { get; set; }

    public X509CertificateInfo? Info { get; set; }
}

/// <summary>References to CA certificates registered with the service.</summary>
internal sealed class X509CaReferences
{
    public string? Primary { get; set; }

    public string? Secondary { get; set; }
}

/// <summary><c>attestation.symmetricKey</c>: base64 keys.</summary>
internal sealed class SymmetricKeyAttestation
{
    public string? PrimaryKey { get; set; }

    public string? SecondaryKey { get; set; }
}

/// <summary><c>capabilities</c>.</summary>
internal sealed class DeviceCapabilities
{
    public bool IotEdge { get; set; }
}

/// <summary><c>reprovisionPolicy</c>; both default to true as in the real service.</summary>
internal sealed class ReprovisionPolicy
{
    public bool UpdateHubAssignment { get; set; } = true;

    public bool MigrateDeviceData { get; set; } = true;
}

/// <summary><c>customAllocationDefinition</c>.</summary>
internal sealed class CustomAllocationDefinition
{
    public string? WebhookUrl { get; set; }

    public string? ApiVersion { get; set; }
}

/// <summary>The service view of a registration (<c>registrations/{id}</c>).</summary>
internal sealed class DeviceRegistrationState
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

    public JsonElement? Payload { get; set; }
}

/// <summary>The body of a query request.</summary>
internal sealed class QuerySpecification
{
    public string? Query { get; set; }
}

/// <summary>The custom allocation webhook request (the real shape: enrollment, device runtime context, linked hubs).</summary>
internal sealed class CustomAllocationRequest
{
    public IndividualEnrollment? IndividualEnrollment { get; set; }

    public EnrollmentGroup? EnrollmentGroup { get; set; }

    public DeviceRuntimeContext? DeviceRuntimeContext { get; set; }

    public List<string>? LinkedHubs { get; set; }
}

/// <summary><c>deviceRuntimeContext</c> of the custom allocation request.</summary>
internal sealed class DeviceRuntimeContext
{
    public string? RegistrationId { get; set; }

    public string? CurrentIotHubHostName { get; set; }

    public string? CurrentDeviceId { get; set; }

    public Dictionary<string, string>? SymmetricKey { get; set; }

    public DeviceRuntimeX509? X509 { get; set; }

    public TpmAttestationBody? Tpm { get; set; }

    public JsonElement? Payload { get; set; }
}

/// <summary>The X.509 part of the device runtime context.</summary>
internal sealed class DeviceRuntimeX509
{
    public string? ClientCertificate { get; set; }

    public string? ClientCertificateIssuer { get; set; }
}

/// <summary>The webhook's answer: the chosen hub, an optional initial twin and a payload for the device.</summary>
internal sealed class CustomAllocationResponse
{
    public string? IotHubHostName { get; set; }

    public JsonElement? InitialTwin { get; set; }

    public JsonElement? Payload { get; set; }
}

/// <summary>The body of a bulk enrollment operation (<c>POST /enrollments</c>).</summary>
internal sealed class BulkEnrollmentOperation
{
    /// <summary><c>create</c>, <c>update</c>, <c>updateIfMatchETag</c> or <c>delete</c>.</summary>
    public string? Mode { get; set; }

    public List<IndividualEnrollment>? Enrollments { get; set; }
}

/// <summary>A bulk enrollment group operation (<c>POST /enrollmentGroups</c>).</summary>
internal sealed class BulkEnrollmentGroupOperation
{
    /// <summary><c>create</c>, <c>update</c>, <c>updateIfMatchETag</c> or <c>delete</c>.</summary>
    public string? Mode { get; set; }

    public List<EnrollmentGroup>? EnrollmentGroups { get; set; }
}

/// <summary>The answer to a bulk enrollment group operation.</summary>
internal sealed class BulkEnrollmentGroupOperationResult
{
    public bool IsSuccessful { get; set; }

    public List<BulkEnrollmentGroupOperationError> Errors { get; set; } = [];
}

/// <summary>One failed item of a bulk enrollment group operation.</summary>
internal sealed class BulkEnrollmentGroupOperationError
{
    public string? EnrollmentGroupId { get; set; }

    public int ErrorCode { get; set; }

    public string? ErrorStatus { get; set; }
}

/// <summary>The answer to a bulk enrollment operation.</summary>
internal sealed class BulkEnrollmentOperationResult
{
    public bool IsSuccessful { get; set; }

    public List<BulkEnrollmentOperationError> Errors { get; set; } = [];
}

/// <summary>One failed item of a bulk enrollment operation.</summary>
internal sealed class BulkEnrollmentOperationError
{
    public string? RegistrationId { get; set; }

    public int ErrorCode { get; set; }

    public string? ErrorStatus { get; set; }
}

namespace Provisioning.Device;

/// <summary>
/// The outcome of a registration: every field of DPS's <c>registrationState</c> (dps-protocol.md §1.6). <c>assigned</c>,
/// <c>disabled</c> and <c>failed</c> are all results; check <see cref="Status"/>.
/// </summary>
public sealed class DeviceRegistrationResult
{
    /// <summary>The registration id.</summary>
    public required string RegistrationId { get; init; }

    /// <summary>The final status.</summary>
    public ProvisioningRegistrationStatus Status { get; init; }

    /// <summary>Why the device was (re)assigned.</summary>
    public ProvisioningRegistrationSubstatus Substatus { get; init; }

    /// <summary>The host name of the assigned IoT hub, when assigned.</summary>
    public string? AssignedHub { get; init; }

    /// <summary>The device id in the assigned hub, when assigned.</summary>
    public string? DeviceId { get; init; }

    /// <summary>When the registration was first created.</summary>
    public DateTimeOffset? CreatedDateTimeUtc { get; init; }

    /// <summary>When the registration last changed.</summary>
    public DateTimeOffset? LastUpdatedDateTimeUtc { get; init; }

    /// <summary>The generation id of the device in the hub.</summary>
    public string? GenerationId { get; init; }

    /// <summary>The registration's entity tag.</summary>
    public string? ETag { get; init; }

    /// <summary>The DPS error code, for a failed registration.</summary>
    public int? ErrorCode { get; init; }

    /// <summary>The DPS error message, for a failed registration.</summary>
    public string? ErrorMessage { get; init; }

    /// <summary>The JSON payload returned by a custom allocation, verbatim, or <see langword="null"/>.</summary>
    public string? JsonPayload { get; init; }

    /// <summary>The enrollment group the device registered through (X.509 or symmetric key), if any.</summary>
    public string? EnrollmentGroupId { get; init; }

    /// <summary>The device certificate as DPS saw it (X.509).</summary>
    public X509CertificateInfo? CertificateInfo { get; init; }

    /// <summary>The certificate that signed the device certificate (X.509 group).</summary>
    public X509CertificateInfo? SigningCertificateInfo { get; init; }

    /// <summary>Issued certificates, base64 DER, leaf first (preview api-versions only; otherwise empty).</summary>
    public IReadOnlyList<string> IssuedCertificateChain { get; init; } = [];

    /// <summary>The key of <see cref="IssuedCertificateChain"/>'s leaf: the request's
    /// <see cref="ProvisioningRegistrationRequest.CertificateSigningKey"/>, set once the chain was validated against it
    /// (also for a cached result); otherwise <see langword="null"/>. For a cached result written by a renewal with a new key
    /// whose old key was not retired yet (an interrupted renewal), it is the key at the other location of the request key's
    /// pair (TPM handle or key file) that the cached leaf names: a new object, which the caller disposes.</summary>
    public CertificateSigningKey? CertificateSigningKey { get; internal set; }

    /// <summary>The DPS operation id of this registration, or <see langword="null"/> for a cached result.</summary>
    public string? OperationId { get; init; }

    /// <summary>Whether this result came from the registration cache instead of the service.</summary>
    public bool IsFromCache { get; init; }
}

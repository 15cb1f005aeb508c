namespace Provisioning.Device;

/// <summary>What the registration cache keeps of an assigned registration: no secrets, only where to connect.</summary>
public sealed class CachedRegistration
{
    /// <summary>The DPS ID scope the registration was made in.</summary>
    public required string IdScope { get; init; }

    /// <summary>The registration id.</summary>
    public required string RegistrationId { get; init; }

    /// <summary>The host name of the assigned hub.</summary>
    public required string AssignedHub { get; init; }

    /// <summary>The device id in that hub.</summary>
    public required string DeviceId { get; init; }

    /// <summary>When the registration was made.</summary>
    public required DateTimeOffset RegisteredAt { get; init; }

    /// <summary>The payload returned by a custom allocation, if any.</summary>
    public string? JsonPayload { get; init; }

    /// <summary>The issued certificate chain (base64 DER, leaf first), when one was issued; public data only (the key is
    /// stored by its <see cref="CertificateSigningKey"/>).</summary>
    public IReadOnlyList<string> IssuedCertificateChain { get; init; } = [];
}

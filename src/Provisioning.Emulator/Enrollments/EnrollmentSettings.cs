namespace Provisioning.Emulator.Enrollments;

/// <summary>The allocation policies of an enrollment.</summary>
public enum AllocationPolicy
{
    /// <summary>Evenly weighted hashing over the hubs.</summary>
    Hashed,

    /// <summary>A hub in the device's region.</summary>
    GeoLatency,

    /// <summary>One fixed hub.</summary>
    Static,

    /// <summary>A webhook chooses.</summary>
    Custom,
}

/// <summary>Optional settings of an enrollment created through <see cref="DpsEnrollments"/>.</summary>
public sealed class EnrollmentSettings
{
    /// <summary>The primary symmetric key (base64); a random 64-byte key when null.</summary>
    public string? PrimaryKey { get; init; }

    /// <summary>The secondary symmetric key (base64); a random 64-byte key when null.</summary>
    public string? SecondaryKey { get; init; }

    /// <summary>The device id in the hub (individual enrollments); the registration id when null.</summary>
    public string? DeviceId { get; init; }

    /// <summary>Whether the enrollment is enabled (<c>provisioningStatus</c>).</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>The allocation policy.</summary>
    public AllocationPolicy AllocationPolicy { get; init; } = AllocationPolicy.Hashed;

    /// <summary>The hubs this enrollment may be assigned to; all linked hubs when empty.</summary>
    public IReadOnlyList<string> IotHubs { get; init; } = [];

    /// <summary>The custom allocation webhook (with <see cref="AllocationPolicy.Custom"/>).</summary>
    public Uri? WebhookUrl { get; init; }

    /// <summary>The initial twin as JSON (<c>{"tags":{…},"properties":{"desired":{…}}}</c>), or null.</summary>
    public string? InitialTwinJson { get; init; }

    /// <summary>Reprovision policy: whether a re-registration re-evaluates the hub.</summary>
    public bool UpdateHubAssignment { get; init; } = true;

    /// <summary>Reprovision policy: whether device data moves with the device.</summary>
    public bool MigrateDeviceData { get; init; } = true;

    /// <summary>Whether the device is an IoT Edge device.</summary>
    public bool IotEdge { get; init; }
}

/// <summary>A symmetric key pair (base64).</summary>
/// <param name="PrimaryKey">The primary key.</param>
/// <param name="SecondaryKey">The secondary key.</param>
public sealed record SymmetricKeyPair(string PrimaryKey, string SecondaryKey)
{
    /// <summary>
    /// The device key a group enrollment gives <paramref name="registrationId"/>: base64(HMAC-SHA256(primary, id))
    /// (dps-protocol.md §3).
    /// </summary>
    public string DeriveDeviceKey(string registrationId)
    {
        ArgumentException.ThrowIfNullOrEmpty(registrationId);
        return Convert.ToBase64String(Device.DeviceAuthenticator.Derive(Convert.FromBase64String(PrimaryKey), registrationId)!);
    }
}

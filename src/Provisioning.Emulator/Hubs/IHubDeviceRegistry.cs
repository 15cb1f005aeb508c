namespace Provisioning.Emulator.Hubs;

/// <summary>How a device authenticates to its hub.</summary>
public enum HubCredentialKind
{
    /// <summary>SAS tokens signed with a symmetric key (individual or group-derived).</summary>
    SymmetricKey,

    /// <summary>SAS tokens signed inside the TPM with the identity key DPS wrapped for the hub.</summary>
    Tpm,

    /// <summary>A TLS client certificate, matched by thumbprint.</summary>
    X509,

    /// <summary>A TLS client certificate chained to a certificate authority the hub trusts, whose subject CN is the device id
    /// (IoT Hub's CA-signed X.509 authentication). Devices DPS issued a certificate to are registered this way; any valid
    /// certificate from the authority is accepted, so the one a renewal replaced keeps working until it expires.</summary>
    CertificateAuthority,
}

/// <summary>A device in a linked hub's registry, as DPS put it there.</summary>
/// <param name="HubHostName">The hub the device is assigned to.</param>
/// <param name="DeviceId">The device id.</param>
/// <param name="Kind">How the device authenticates.</param>
/// <param name="PrimaryKey">The SAS key (symmetric primary key, or the TPM identity key); null for X.509.</param>
/// <param name="SecondaryKey">The secondary symmetric key, when there is one.</param>
/// <param name="Thumbprint">The SHA-256 (hex, upper case) thumbprint of the device certificate, for X.509; for
/// <see cref="HubCredentialKind.CertificateAuthority"/>, that of the last certificate issued (shown, not used to authenticate).</param>
/// <param name="Enabled">Whether the hub accepts the device.</param>
/// <param name="InitialTwin">The desired properties the enrollment set, as JSON, or null.</param>
public sealed record HubDevice(
    string HubHostName,
    string DeviceId,
    HubCredentialKind Kind,
    byte[]? PrimaryKey,
    byte[]? SecondaryKey,
    string? Thumbprint,
    bool Enabled,
    string? InitialTwin)
{
    /// <summary>Which twin data the entry stands for. A hub that holds a twin of another generation drops it and starts again
    /// from <see cref="InitialTwin"/>; a twin of the same generation is kept (a reconnect, or a re-registration that kept or
    /// migrated the device's data).</summary>
    /// <remarks>DPS gives a new value on a first assignment and on a re-registration whose reprovision policy resets the device's
    /// data (substatus <c>deviceDataReset</c>), and carries the previous entry's value otherwise (dps-protocol.md §1.6, issue 4).
    /// Entries written without one (null) all share one generation, so such twins are never reset.</remarks>
    public string? TwinGeneration { get; init; }
}

/// <summary>The device registries of the linked hubs: DPS writes, the emulated hubs read.</summary>
public interface IHubDeviceRegistry
{
    /// <summary>Finds a device, or returns null.</summary>
    ValueTask<HubDevice?> FindAsync(string hubHostName, string deviceId, CancellationToken cancellationToken = default);

    /// <summary>Adds the device or replaces its entry (a re-registration with a fresh credential).</summary>
    ValueTask UpsertAsync(HubDevice device, CancellationToken cancellationToken = default);

    /// <summary>Removes a device (a migration to another hub); returns whether it was there.</summary>
    ValueTask<bool> RemoveAsync(string hubHostName, string deviceId, CancellationToken cancellationToken = default);
}

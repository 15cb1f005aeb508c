using Microsoft.Extensions.Logging;

namespace Provisioning.Device.Tpm;

/// <summary>Settings of a <see cref="TpmIdentity"/>: where its keys live and the hierarchy passwords of a TPM that was taken ownership of.</summary>
/// <remarks>Defaults are the handles of dps-protocol.md §2.1 and empty hierarchy passwords, as on a fresh TPM.</remarks>
public sealed class TpmIdentityOptions
{
    /// <summary>The persistent handle of the endorsement key.</summary>
    public uint EndorsementKeyHandle { get; set; } = TpmHandles.EndorsementKey;

    /// <summary>The persistent handle of the storage root key.</summary>
    public uint StorageRootKeyHandle { get; set; } = TpmHandles.StorageRootKey;

    /// <summary>The persistent handle of the DPS identity (HMAC) key.</summary>
    public uint IdentityKeyHandle { get; set; } = TpmHandles.IdentityKey;

    /// <summary>The owner (storage) hierarchy password, empty unless the TPM was taken ownership of.</summary>
    public ReadOnlyMemory<byte> OwnerAuth { get; set; }

    /// <summary>The endorsement hierarchy password, empty unless set.</summary>
    public ReadOnlyMemory<byte> EndorsementAuth { get; set; }

    /// <summary>Transport settings used by <see cref="TpmIdentity.Open"/>.</summary>
    public TpmTransportOptions? Transport { get; set; }

    /// <summary>Where the identity logs (quiet by default: warnings for failed cleanup, debug for key creation).</summary>
    public ILogger? Logger { get; set; }

    /// <summary>The clock for retry delays.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    internal void Validate()
    {
        CheckPersistent(EndorsementKeyHandle, nameof(EndorsementKeyHandle));
        CheckPersistent(StorageRootKeyHandle, nameof(StorageRootKeyHandle));
        CheckPersistent(IdentityKeyHandle, nameof(IdentityKeyHandle));
        if (EndorsementKeyHandle == StorageRootKeyHandle || IdentityKeyHandle == StorageRootKeyHandle || IdentityKeyHandle == EndorsementKeyHandle)
        {
            throw new ArgumentException("The EK, SRK and identity key need three different persistent handles.");
        }

        ArgumentNullException.ThrowIfNull(TimeProvider);
    }

    private static void CheckPersistent(uint handle, string name)
    {
        if (TpmHandles.TypeOf(handle) != TpmHandles.PersistentType)
        {
            throw new ArgumentException($"{name} 0x{handle:X8} is not a persistent handle (0x81xxxxxx).", name);
        }
    }
}

namespace Provisioning.Device.Tpm;

/// <summary>Permanent handles, handle ranges, and the persistent handles of the DPS flow.</summary>
/// <remarks>TPM 2.0 Library Part 2, §7 (TPM_RH, TPM_HT); persistent handles from dps-protocol.md §2.1; the EK
/// certificate index from the TCG EK Credential Profile §2.2.1.4.</remarks>
public static class TpmHandles
{
    /// <summary>TPM_RH_OWNER: the storage hierarchy.</summary>
    public const uint Owner = 0x4000_0001;

    /// <summary>TPM_RH_NULL.</summary>
    public const uint Null = 0x4000_0007;

    /// <summary>TPM_RS_PW: the password authorization pseudo-session.</summary>
    public const uint PasswordSession = 0x4000_0009;

    /// <summary>TPM_RH_LOCKOUT.</summary>
    public const uint Lockout = 0x4000_000A;

    /// <summary>TPM_RH_ENDORSEMENT: the endorsement hierarchy.</summary>
    public const uint Endorsement = 0x4000_000B;

    /// <summary>TPM_RH_PLATFORM.</summary>
    public const uint Platform = 0x4000_000C;

    /// <summary>TPM_HT_NV_INDEX: the top byte of an NV index handle.</summary>
    public const byte NvIndexType = 0x01;

    /// <summary>TPM_HT_HMAC_SESSION (also loaded sessions).</summary>
    public const byte HmacSessionType = 0x02;

    /// <summary>TPM_HT_POLICY_SESSION (also saved sessions).</summary>
    public const byte PolicySessionType = 0x03;

    /// <summary>TPM_HT_TRANSIENT: the top byte of a loaded object's handle.</summary>
    public const byte TransientType = 0x80;

    /// <summary>TPM_HT_PERSISTENT: the top byte of a persistent object's handle.</summary>
    public const byte PersistentType = 0x81;

    /// <summary>Where the endorsement key is persisted (dps-protocol.md §2.1).</summary>
    public const uint EndorsementKey = 0x8101_0001;

    /// <summary>Where the storage root key is persisted (dps-protocol.md §2.1).</summary>
    public const uint StorageRootKey = 0x8100_0001;

    /// <summary>Where the DPS identity (HMAC) key is persisted (dps-protocol.md §2.1).</summary>
    public const uint IdentityKey = 0x8100_0100;

    /// <summary>The NV index of the RSA-2048 EK certificate (TCG EK Credential Profile).</summary>
    public const uint EndorsementKeyCertificate = 0x01C0_0002;

    /// <summary>The type (top byte) of a handle.</summary>
    public static byte TypeOf(uint handle) => (byte)(handle >> 24);
}

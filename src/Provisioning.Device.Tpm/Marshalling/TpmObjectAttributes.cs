namespace Provisioning.Device.Tpm;

/// <summary>TPMA_OBJECT bits.</summary>
/// <remarks>TPM 2.0 Library Part 2, §8.3.</remarks>
[Flags]
#pragma warning disable CA1028 // the wire type is UINT32
public enum TpmObjectAttributes : uint
#pragma warning restore CA1028
{
    /// <summary>No attribute.</summary>
    None = 0,

    /// <summary>fixedTPM.</summary>
    FixedTpm = 0x0000_0002,

    /// <summary>stClear.</summary>
    StClear = 0x0000_0004,

    /// <summary>fixedParent.</summary>
    FixedParent = 0x0000_0010,

    /// <summary>sensitiveDataOrigin.</summary>
    SensitiveDataOrigin = 0x0000_0020,

    /// <summary>userWithAuth.</summary>
    UserWithAuth = 0x0000_0040,

    /// <summary>adminWithPolicy.</summary>
    AdminWithPolicy = 0x0000_0080,

    /// <summary>noDA.</summary>
    NoDA = 0x0000_0400,

    /// <summary>encryptedDuplication.</summary>
    EncryptedDuplication = 0x0000_0800,

    /// <summary>restricted.</summary>
    Restricted = 0x0001_0000,

    /// <summary>decrypt.</summary>
    Decrypt = 0x0002_0000,

    /// <summary>sign / encrypt.</summary>
    Sign = 0x0004_0000,
}

/// <summary>TPMA_SESSION bits of an authorization.</summary>
/// <remarks>TPM 2.0 Library Part 2, §8.4.</remarks>
[Flags]
#pragma warning disable CA1028 // the wire type is UINT8
public enum TpmSessionAttributes : byte
#pragma warning restore CA1028
{
    /// <summary>No attribute: the session ends when the command succeeds.</summary>
    None = 0,

    /// <summary>continueSession.</summary>
    ContinueSession = 0x01,

    /// <summary>auditExclusive.</summary>
    AuditExclusive = 0x02,

    /// <summary>auditReset.</summary>
    AuditReset = 0x04,

    /// <summary>decrypt (parameter encryption).</summary>
    Decrypt = 0x20,

    /// <summary>encrypt (parameter encryption).</summary>
    Encrypt = 0x40,

    /// <summary>audit.</summary>
    Audit = 0x80,
}

/// <summary>TPM_SE session types.</summary>
/// <remarks>TPM 2.0 Library Part 2, §6.11.</remarks>
#pragma warning disable CA1028 // the wire type is UINT8
public enum TpmSessionType : byte
#pragma warning restore CA1028
{
    /// <summary>TPM_SE_HMAC.</summary>
    Hmac = 0x00,

    /// <summary>TPM_SE_POLICY.</summary>
    Policy = 0x01,

    /// <summary>TPM_SE_TRIAL.</summary>
    Trial = 0x03,
}

/// <summary>Other small TPM constants: capabilities and startup types.</summary>
/// <remarks>TPM 2.0 Library Part 2, §6.12 (TPM_CAP), §6.4 (TPM_SU).</remarks>
public static class TpmConstants
{
    /// <summary>TPM_CAP_HANDLES.</summary>
    public const uint CapabilityHandles = 0x0000_0001;

    /// <summary>TPM_SU_CLEAR.</summary>
    public const ushort StartupClear = 0x0000;

    /// <summary>TPM_SU_STATE.</summary>
    public const ushort StartupState = 0x0001;

    /// <summary>The largest TPM2B_MAX_BUFFER most TPMs (and swtpm) accept: longer HMAC input needs a sequence.</summary>
    public const int MaxBufferSize = 1024;

    /// <summary>The largest digest a TPM2B_DIGEST holds (SHA-512).</summary>
    public const int MaxDigestSize = 64;
}

namespace Provisioning.Device.Tpm;

/// <summary>TPM_ST values: command/response tags and ticket tags.</summary>
/// <remarks>TPM 2.0 Library Part 2, §6.9 (TPM_ST).</remarks>
#pragma warning disable CA1028 // the wire type is UINT16
public enum TpmStructureTag : ushort
#pragma warning restore CA1028
{
    /// <summary>TPM_ST_RSP_COMMAND: the tag of a response to a malformed command header (TPM 1.2 style).</summary>
    ResponseCommand = 0x00C4,

    /// <summary>TPM_ST_NULL.</summary>
    Null = 0x8000,

    /// <summary>TPM_ST_NO_SESSIONS: a command or response without an authorization area.</summary>
    NoSessions = 0x8001,

    /// <summary>TPM_ST_SESSIONS: a command or response with an authorization area.</summary>
    Sessions = 0x8002,

    /// <summary>TPM_ST_CREATION: a creation ticket.</summary>
    Creation = 0x8021,

    /// <summary>TPM_ST_VERIFIED.</summary>
    Verified = 0x8022,

    /// <summary>TPM_ST_AUTH_SECRET: a PolicySecret ticket.</summary>
    AuthSecret = 0x8023,

    /// <summary>TPM_ST_HASHCHECK: a hash or sequence ticket.</summary>
    HashCheck = 0x8024,

    /// <summary>TPM_ST_AUTH_SIGNED.</summary>
    AuthSigned = 0x8025,
}

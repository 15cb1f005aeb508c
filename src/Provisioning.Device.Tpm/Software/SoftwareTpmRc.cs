namespace Provisioning.Device.Tpm;

/// <summary>The TPM_RC values the software TPM answers with that the client side never needs to name.</summary>
/// <remarks>TPM 2.0 Library Part 2, §6.6.3 (format-one codes, position bits added by <see cref="SoftwareTpmFault"/>) and §6.6.2.</remarks>
internal static class SoftwareTpmRc
{
    public const uint BadTag = 0x01E;
    public const uint AuthMissing = 0x125;
    public const uint AuthSize = 0x144;
    public const uint AuthUnavailable = 0x12F;
    public const uint CommandSize = 0x142;
    public const uint AuthContext = 0x145;
    public const uint NvRange = 0x146;
    public const uint NvAuthorization = 0x149;
    public const uint NvDefined = 0x14C;
    public const uint Attributes = 0x082;
    public const uint Hash = 0x083;
    public const uint Hierarchy = 0x085;
    public const uint KeySize = 0x087;
    public const uint Mode = 0x089;
    public const uint Type = 0x08A;
    public const uint Range = 0x08D;
    public const uint Nonce = 0x08F;
    public const uint Scheme = 0x092;
    public const uint Symmetric = 0x096;
    public const uint Insufficient = 0x09A;
    public const uint Key = 0x09C;
    public const uint PolicyFail = 0x09D;
    public const uint Binding = 0x0A5;
    public const uint ReferenceH0 = 0x910;
    public const uint ReferenceS0 = 0x918;
}

namespace Provisioning.Emulator.Tpm;

/// <summary>The TPM 2.0 constants the service side of attestation reads and writes.</summary>
/// <remarks>TPM 2.0 Part 2: TPM_ALG_ID (§6.3) and TPMA_OBJECT (§8.3); the templates of dps-protocol.md §2.1.</remarks>
internal static class TpmConstants
{
    public const ushort AlgRsa = 0x0001;
    public const ushort AlgHmac = 0x0005;
    public const ushort AlgAes = 0x0006;
    public const ushort AlgKeyedHash = 0x0008;
    public const ushort AlgSha256 = 0x000B;
    public const ushort AlgNull = 0x0010;
    public const ushort AlgCfb = 0x0043;

    public const int Sha256Size = 32;
    public const int Aes128KeySize = 16;
    public const int Rsa2048ModulusSize = 256;
    public const uint RsaDefaultExponent = 65537;

    /// <summary>fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|restricted|decrypt: the TCG EK template.</summary>
    public const uint EkAttributes = 0x000300B2;

    /// <summary>fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA|restricted|decrypt: the SRK template.</summary>
    public const uint SrkAttributes = 0x00030472;

    /// <summary>sign|userWithAuth: a duplicable HMAC key usable with a password (empty) session.</summary>
    public const uint IdentityKeyAttributes = 0x00040040;

    /// <summary>PolicySecret(TPM_RH_ENDORSEMENT) digest: the TCG EK template's authPolicy.</summary>
    public static ReadOnlySpan<byte> EkAuthPolicy =>
    [
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5, 0xD7, 0x24,
        0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA,
    ];
}

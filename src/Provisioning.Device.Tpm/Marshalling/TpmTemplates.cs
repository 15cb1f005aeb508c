namespace Provisioning.Device.Tpm;

/// <summary>The key templates of the DPS flow.</summary>
/// <remarks>dps-protocol.md §2.1; the EK template is the TCG EK Credential Profile's RSA-2048 template (low range, template L-1).</remarks>
public static class TpmTemplates
{
    /// <summary>TPMA_OBJECT of the EK: fixedTPM | fixedParent | sensitiveDataOrigin | adminWithPolicy | restricted | decrypt (0x000300B2).</summary>
    public const TpmObjectAttributes EndorsementKeyAttributes =
        TpmObjectAttributes.FixedTpm | TpmObjectAttributes.FixedParent | TpmObjectAttributes.SensitiveDataOrigin
        | TpmObjectAttributes.AdminWithPolicy | TpmObjectAttributes.Restricted | TpmObjectAttributes.Decrypt;

    /// <summary>TPMA_OBJECT of the SRK: fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA | restricted | decrypt (0x00030472).</summary>
    public const TpmObjectAttributes StorageRootKeyAttributes =
        TpmObjectAttributes.FixedTpm | TpmObjectAttributes.FixedParent | TpmObjectAttributes.SensitiveDataOrigin
        | TpmObjectAttributes.UserWithAuth | TpmObjectAttributes.NoDA | TpmObjectAttributes.Restricted | TpmObjectAttributes.Decrypt;

    /// <summary>The standard EK policy: PolicySecret(TPM_RH_ENDORSEMENT) with SHA-256.</summary>
    public static ReadOnlySpan<byte> EndorsementKeyPolicy =>
    [
        0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC, 0x8D, 0x46, 0xA5, 0xD7, 0x24,
        0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52, 0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA,
    ];

    /// <summary>The RSA-2048 EK template, created under the endorsement hierarchy.</summary>
    public static TpmPublic EndorsementKey => StorageTemplate(EndorsementKeyAttributes, EndorsementKeyPolicy.ToArray());

    /// <summary>The RSA-2048 SRK template, created under the owner hierarchy.</summary>
    public static TpmPublic StorageRootKey => StorageTemplate(StorageRootKeyAttributes, []);

    /// <summary>TPMA_OBJECT of a certificate key: fixedTPM | fixedParent | sensitiveDataOrigin | userWithAuth | noDA | sign (0x00040472).</summary>
    public const TpmObjectAttributes SigningKeyAttributes =
        TpmObjectAttributes.FixedTpm | TpmObjectAttributes.FixedParent | TpmObjectAttributes.SensitiveDataOrigin
        | TpmObjectAttributes.UserWithAuth | TpmObjectAttributes.NoDA | TpmObjectAttributes.Sign;

    /// <summary>TPM_ECC_NIST_P256.</summary>
    public const ushort NistP256 = 0x0003;

    /// <summary>An unrestricted ECC P-256 signing key with a NULL scheme (the caller names ECDSA-SHA256 when signing; TLS
    /// through the tpm2-openssl provider does the same), created under the SRK for a device certificate.</summary>
    public static TpmPublic EccP256SigningKey => new()
    {
        Type = TpmAlgorithm.Ecc,
        NameAlgorithm = TpmAlgorithm.Sha256,
        Attributes = SigningKeyAttributes,
        Symmetric = TpmSymmetricDefinition.None,
        Scheme = TpmAlgorithm.Null,
        CurveId = NistP256,
        SchemeKdf = TpmAlgorithm.Null,
    };

    /// <summary>An unrestricted RSA signing key of <paramref name="bits"/> bits with a NULL scheme (so TLS 1.3 can sign
    /// RSA-PSS and the CSR PKCS#1 v1.5), created under the SRK for a device certificate.</summary>
    /// <param name="bits">2048 or 3072.</param>
    public static TpmPublic RsaSigningKey(ushort bits) => new()
    {
        Type = TpmAlgorithm.Rsa,
        NameAlgorithm = TpmAlgorithm.Sha256,
        Attributes = SigningKeyAttributes,
        Symmetric = TpmSymmetricDefinition.None,
        Scheme = TpmAlgorithm.Null,
        KeyBits = bits is 2048 or 3072 ? bits : throw new ArgumentOutOfRangeException(nameof(bits), bits, "RSA signing keys are 2048 or 3072 bits."),
        Exponent = 0,
    };

    private static TpmPublic StorageTemplate(TpmObjectAttributes attributes, byte[] policy) => new()
    {
        Type = TpmAlgorithm.Rsa,
        NameAlgorithm = TpmAlgorithm.Sha256,
        Attributes = attributes,
        AuthPolicy = policy,
        Symmetric = TpmSymmetricDefinition.Aes128Cfb,
        Scheme = TpmAlgorithm.Null,
        KeyBits = 2048,
        Exponent = 0,

        // 256 zero bytes: what the TCG template and tpm2_createek use, so the same TPM yields byte-identical keys.
        Unique = new byte[256],
    };
}

namespace Provisioning.Device.Tpm;

/// <summary>TPM_ALG_ID values used by this library.</summary>
/// <remarks>TCG Algorithm Registry, Table 3 (TPM_ALG_ID).</remarks>
#pragma warning disable CA1028 // the wire type is UINT16
public enum TpmAlgorithm : ushort
#pragma warning restore CA1028
{
    /// <summary>TPM_ALG_ERROR.</summary>
    Error = 0x0000,

    /// <summary>TPM_ALG_RSA.</summary>
    Rsa = 0x0001,

    /// <summary>TPM_ALG_SHA1.</summary>
    Sha1 = 0x0004,

    /// <summary>TPM_ALG_HMAC.</summary>
    Hmac = 0x0005,

    /// <summary>TPM_ALG_AES.</summary>
    Aes = 0x0006,

    /// <summary>TPM_ALG_KEYEDHASH.</summary>
    KeyedHash = 0x0008,

    /// <summary>TPM_ALG_XOR.</summary>
    Xor = 0x000A,

    /// <summary>TPM_ALG_SHA256.</summary>
    Sha256 = 0x000B,

    /// <summary>TPM_ALG_SHA384.</summary>
    Sha384 = 0x000C,

    /// <summary>TPM_ALG_SHA512.</summary>
    Sha512 = 0x000D,

    /// <summary>TPM_ALG_NULL.</summary>
    Null = 0x0010,

    /// <summary>TPM_ALG_RSASSA.</summary>
    RsaSsa = 0x0014,

    /// <summary>TPM_ALG_RSAES.</summary>
    RsaEs = 0x0015,

    /// <summary>TPM_ALG_RSAPSS.</summary>
    RsaPss = 0x0016,

    /// <summary>TPM_ALG_OAEP.</summary>
    Oaep = 0x0017,

    /// <summary>TPM_ALG_ECDSA.</summary>
    Ecdsa = 0x0018,

    /// <summary>TPM_ALG_ECC.</summary>
    Ecc = 0x0023,

    /// <summary>TPM_ALG_SYMCIPHER.</summary>
    SymCipher = 0x0025,

    /// <summary>TPM_ALG_CFB.</summary>
    Cfb = 0x0043,
}

using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>A loaded or persisted object of the software TPM: its public area and the sensitive parts the commands use.</summary>
/// <remarks>TPM 2.0 Library Part 1, §27 (objects): an RSA storage key keeps its private key and the seed that protects its
/// children; a keyed-hash key keeps its HMAC key. HMAC sequences (Part 1 §32.5) occupy object slots too, as on a real TPM.</remarks>
internal sealed class SoftwareTpmObject
{
    public required TpmPublic Public { get; init; }

    /// <summary>The TPMT_PUBLIC bytes exactly as marshalled (what the Name hashes).</summary>
    public required byte[] PublicArea { get; init; }

    public required byte[] Name { get; init; }

    public required byte[] QualifiedName { get; init; }

    /// <summary>The hierarchy the object belongs to (TPM_RH_OWNER, TPM_RH_ENDORSEMENT).</summary>
    public required uint Hierarchy { get; init; }

    public byte[] AuthValue { get; init; } = [];

    /// <summary>seedValue: the protection seed of a storage key, or the obfuscation value of a keyed-hash key.</summary>
    public byte[] SeedValue { get; init; } = [];

    public SoftwareTpmRsaKey? RsaKey { get; init; }

    public byte[]? HmacKey { get; init; }

    /// <summary>The private part of a signing key: the RSA prime p or the ECC private scalar (Part 2 §12.3.2.3).</summary>
    public byte[]? SigningPrivate { get; init; }

    /// <summary>The running HMAC of a sequence object (null for keys).</summary>
    public IncrementalHash? Sequence { get; init; }

    public bool IsStorageParent => RsaKey is not null
        && Public.Attributes.HasFlag(TpmObjectAttributes.Restricted) && Public.Attributes.HasFlag(TpmObjectAttributes.Decrypt);

    /// <summary>The Name of a SHA-256 object: 000B ‖ SHA-256(TPMT_PUBLIC bytes) (Part 1 §16).</summary>
    public static byte[] NameOf(ReadOnlySpan<byte> publicArea)
    {
        var name = new byte[2 + SHA256.HashSizeInBytes];
        name[1] = (byte)TpmAlgorithm.Sha256;
        SHA256.HashData(publicArea, name.AsSpan(2));
        return name;
    }

    /// <summary>The qualified name under a parent: nameAlg ‖ H(parentQualifiedName ‖ Name) (Part 1 §16).</summary>
    public static byte[] Qualify(ReadOnlySpan<byte> parentQualifiedName, ReadOnlySpan<byte> name) => NameOf([.. parentQualifiedName, .. name]);

    /// <summary>The Name of a permanent handle: the handle itself (Part 1 §16).</summary>
    public static byte[] HandleName(uint handle) => [(byte)(handle >> 24), (byte)(handle >> 16), (byte)(handle >> 8), (byte)handle];

    /// <summary>Forgets the secrets this object holds.</summary>
    public void Wipe()
    {
        CryptographicOperations.ZeroMemory(AuthValue);
        CryptographicOperations.ZeroMemory(SeedValue);
        if (HmacKey is not null)
        {
            CryptographicOperations.ZeroMemory(HmacKey);
        }

        if (SigningPrivate is not null)
        {
            CryptographicOperations.ZeroMemory(SigningPrivate);
        }

        Sequence?.Dispose();
    }
}

/// <summary>A policy (or trial) session of the software TPM.</summary>
/// <remarks>TPM 2.0 Library Part 1, §19.7: policyDigest starts at zeros and each policy command extends it.</remarks>
internal sealed class SoftwareTpmSession
{
    public required TpmSessionType Type { get; init; }

    public byte[] NonceTpm { get; set; } = [];

    public byte[] PolicyDigest { get; set; } = new byte[SHA256.HashSizeInBytes];
}

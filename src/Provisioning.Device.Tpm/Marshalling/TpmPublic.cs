using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>TPMT_PUBLIC for the object types of the DPS flow: RSA (EK, SRK), KEYEDHASH (the HMAC identity key) and SYMCIPHER.</summary>
/// <remarks>TPM 2.0 Library Part 2, §12.2.4 (TPMT_PUBLIC), §12.2.3 (TPMU_PUBLIC_PARMS), §12.2.5 (TPM2B_PUBLIC); the Name is
/// nameAlg || H(TPMT_PUBLIC) per Part 1 §16. The TPM2B form (size prefix included) is what DPS receives (dps-protocol.md §2.2).</remarks>
public sealed class TpmPublic
{
    /// <summary>The object type: TPM_ALG_RSA, TPM_ALG_KEYEDHASH or TPM_ALG_SYMCIPHER.</summary>
    public required TpmAlgorithm Type { get; init; }

    /// <summary>The hash algorithm of the object's Name.</summary>
    public TpmAlgorithm NameAlgorithm { get; init; } = TpmAlgorithm.Sha256;

    /// <summary>TPMA_OBJECT.</summary>
    public required TpmObjectAttributes Attributes { get; init; }

    /// <summary>The policy digest (empty for none).</summary>
    public ReadOnlyMemory<byte> AuthPolicy { get; init; }

    /// <summary>The symmetric algorithm of a storage key or SYMCIPHER object (TPM_ALG_NULL for none).</summary>
    public TpmSymmetricDefinition Symmetric { get; init; } = TpmSymmetricDefinition.None;

    /// <summary>The signing / encryption scheme (TPMT_RSA_SCHEME or TPMT_KEYEDHASH_SCHEME), TPM_ALG_NULL for none.</summary>
    public TpmAlgorithm Scheme { get; init; } = TpmAlgorithm.Null;

    /// <summary>The hash algorithm of <see cref="Scheme"/>, when the scheme has one (HMAC, XOR, RSASSA, RSAPSS, OAEP).</summary>
    public TpmAlgorithm SchemeHash { get; init; } = TpmAlgorithm.Null;

    /// <summary>The KDF of an XOR keyed-hash scheme.</summary>
    public TpmAlgorithm SchemeKdf { get; init; } = TpmAlgorithm.Null;

    /// <summary>RSA key size in bits.</summary>
    public ushort KeyBits { get; init; }

    /// <summary>RSA public exponent; 0 means 65537.</summary>
    public uint Exponent { get; init; }

    /// <summary>The unique field: the RSA modulus, or the keyed-hash / symmetric unique digest (ECC: see <see cref="EccX"/>).</summary>
    public ReadOnlyMemory<byte> Unique { get; init; }

    /// <summary>TPMI_ECC_CURVE of an ECC key (TPM_ECC_NIST_P256 = 3).</summary>
    public ushort CurveId { get; init; }

    /// <summary>The hash of an ECC key's KDF scheme (TPM_ALG_NULL when the KDF is NULL; the KDF itself is <see cref="SchemeKdf"/>).</summary>
    public TpmAlgorithm KdfHash { get; init; } = TpmAlgorithm.Null;

    /// <summary>The x coordinate of an ECC key's public point (TPMS_ECC_POINT).</summary>
    public ReadOnlyMemory<byte> EccX { get; init; }

    /// <summary>The y coordinate of an ECC key's public point.</summary>
    public ReadOnlyMemory<byte> EccY { get; init; }

    /// <summary>Writes the TPMT_PUBLIC (without size prefix).</summary>
    public void Write(TpmWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteUInt16((ushort)Type);
        writer.WriteUInt16((ushort)NameAlgorithm);
        writer.WriteUInt32((uint)Attributes);
        writer.WriteSized(AuthPolicy.Span);
        switch (Type)
        {
            case TpmAlgorithm.Rsa:
                Symmetric.Write(writer);
                writer.WriteUInt16((ushort)Scheme);
                if (Scheme is not (TpmAlgorithm.Null or TpmAlgorithm.RsaEs))
                {
                    writer.WriteUInt16((ushort)SchemeHash);
                }

                writer.WriteUInt16(KeyBits);
                writer.WriteUInt32(Exponent);
                break;
            case TpmAlgorithm.KeyedHash:
                writer.WriteUInt16((ushort)Scheme);
                if (Scheme == TpmAlgorithm.Hmac)
                {
                    writer.WriteUInt16((ushort)SchemeHash);
                }
                else if (Scheme == TpmAlgorithm.Xor)
                {
                    writer.WriteUInt16((ushort)SchemeHash);
                    writer.WriteUInt16((ushort)SchemeKdf);
                }

                break;
            case TpmAlgorithm.SymCipher:
                Symmetric.Write(writer);
                break;
            case TpmAlgorithm.Ecc:
                Symmetric.Write(writer);
                writer.WriteUInt16((ushort)Scheme);
                if (Scheme != TpmAlgorithm.Null)
                {
                    writer.WriteUInt16((ushort)SchemeHash);
                }

                writer.WriteUInt16(CurveId);
                writer.WriteUInt16((ushort)SchemeKdf);
                if (SchemeKdf != TpmAlgorithm.Null)
                {
                    writer.WriteUInt16((ushort)KdfHash);
                }

                writer.WriteSized(EccX.Span);
                writer.WriteSized(EccY.Span);
                return;
            default:
                throw new InvalidOperationException($"TPMT_PUBLIC of type 0x{(ushort)Type:X4} is not supported.");
        }

        writer.WriteSized(Unique.Span);
    }

    /// <summary>Writes the TPM2B_PUBLIC (UINT16 size, then the TPMT_PUBLIC).</summary>
    public void WriteSized(TpmWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var mark = writer.BeginSized();
        Write(writer);
        writer.EndSized(mark);
    }

    /// <summary>The TPM2B_PUBLIC bytes, size prefix included (what DPS receives as the EK and SRK).</summary>
    public byte[] ToTpm2B()
    {
        using var writer = new TpmWriter(512);
        WriteSized(writer);
        return writer.ToArray();
    }

    /// <summary>The TPMT_PUBLIC bytes, without size prefix.</summary>
    public byte[] ToBytes()
    {
        using var writer = new TpmWriter(512);
        Write(writer);
        return writer.ToArray();
    }

    /// <summary>Reads a TPMT_PUBLIC.</summary>
    public static TpmPublic Read(ref TpmReader reader)
    {
        var type = (TpmAlgorithm)reader.ReadUInt16();
        var nameAlg = (TpmAlgorithm)reader.ReadUInt16();
        if (nameAlg is not (TpmAlgorithm.Sha256 or TpmAlgorithm.Sha384 or TpmAlgorithm.Sha512 or TpmAlgorithm.Sha1))
        {
            // The Name is computed from the area (Part 1 §16): a hash we cannot compute makes it unusable.
            throw new TpmFormatException($"TPMT_PUBLIC nameAlg 0x{(ushort)nameAlg:X4} is not a supported hash (SHA-1, SHA-256, SHA-384, SHA-512).");
        }

        var attributes = (TpmObjectAttributes)reader.ReadUInt32();
        var policy = reader.ReadSized(TpmConstants.MaxDigestSize, "TPM2B_DIGEST authPolicy").ToArray();
        var symmetric = TpmSymmetricDefinition.None;
        var scheme = TpmAlgorithm.Null;
        var schemeHash = TpmAlgorithm.Null;
        var schemeKdf = TpmAlgorithm.Null;
        ushort keyBits = 0;
        uint exponent = 0;
        int maxUnique;
        switch (type)
        {
            case TpmAlgorithm.Rsa:
                symmetric = TpmSymmetricDefinition.Read(ref reader);
                scheme = (TpmAlgorithm)reader.ReadUInt16();
                if (scheme is not (TpmAlgorithm.Null or TpmAlgorithm.RsaEs))
                {
                    schemeHash = (TpmAlgorithm)reader.ReadUInt16();
                }

                keyBits = reader.ReadUInt16();
                exponent = reader.ReadUInt32();
                maxUnique = 512;
                break;
            case TpmAlgorithm.KeyedHash:
                scheme = (TpmAlgorithm)reader.ReadUInt16();
                if (scheme == TpmAlgorithm.Hmac)
                {
                    schemeHash = (TpmAlgorithm)reader.ReadUInt16();
                }
                else if (scheme == TpmAlgorithm.Xor)
                {
                    schemeHash = (TpmAlgorithm)reader.ReadUInt16();
                    schemeKdf = (TpmAlgorithm)reader.ReadUInt16();
                }
                else if (scheme != TpmAlgorithm.Null)
                {
                    throw new TpmFormatException($"TPMT_KEYEDHASH_SCHEME 0x{(ushort)scheme:X4} is not a keyed-hash scheme.");
                }

                maxUnique = TpmConstants.MaxDigestSize;
                break;
            case TpmAlgorithm.SymCipher:
                symmetric = TpmSymmetricDefinition.Read(ref reader);
                maxUnique = TpmConstants.MaxDigestSize;
                break;
            case TpmAlgorithm.Ecc:
                return ReadEcc(ref reader, nameAlg, attributes, policy);
            default:
                throw new TpmFormatException($"TPMT_PUBLIC of type 0x{(ushort)type:X4} is not supported (RSA, ECC, KEYEDHASH and SYMCIPHER are).");
        }

        var unique = reader.ReadSized(maxUnique, "TPMU_PUBLIC_ID").ToArray();
        return new TpmPublic
        {
            Type = type,
            NameAlgorithm = nameAlg,
            Attributes = attributes,
            AuthPolicy = policy,
            Symmetric = symmetric,
            Scheme = scheme,
            SchemeHash = schemeHash,
            SchemeKdf = schemeKdf,
            KeyBits = keyBits,
            Exponent = exponent,
            Unique = unique,
        };
    }

    /// <summary>The rest of an ECC TPMT_PUBLIC: TPMS_ECC_PARMS and TPMS_ECC_POINT (Part 2 §12.2.3.6, §11.2.5.2).</summary>
    private static TpmPublic ReadEcc(ref TpmReader reader, TpmAlgorithm nameAlg, TpmObjectAttributes attributes, byte[] policy)
    {
        var symmetric = TpmSymmetricDefinition.Read(ref reader);
        var scheme = (TpmAlgorithm)reader.ReadUInt16();
        var schemeHash = scheme == TpmAlgorithm.Null ? TpmAlgorithm.Null : (TpmAlgorithm)reader.ReadUInt16();
        var curve = reader.ReadUInt16();
        var kdf = (TpmAlgorithm)reader.ReadUInt16();
        var kdfHash = kdf == TpmAlgorithm.Null ? TpmAlgorithm.Null : (TpmAlgorithm)reader.ReadUInt16();
        const int maxCoordinate = 66; // P-521
        var x = reader.ReadSized(maxCoordinate, "TPMS_ECC_POINT x").ToArray();
        var y = reader.ReadSized(maxCoordinate, "TPMS_ECC_POINT y").ToArray();
        return new TpmPublic
        {
            Type = TpmAlgorithm.Ecc,
            NameAlgorithm = nameAlg,
            Attributes = attributes,
            AuthPolicy = policy,
            Symmetric = symmetric,
            Scheme = scheme,
            SchemeHash = schemeHash,
            SchemeKdf = kdf,
            KdfHash = kdfHash,
            CurveId = curve,
            EccX = x,
            EccY = y,
        };
    }

    /// <summary>Reads a TPM2B_PUBLIC: the size must match the TPMT_PUBLIC inside exactly.</summary>
    public static TpmPublic ReadSized(ref TpmReader reader)
    {
        var inner = reader.ReadSizedReader("TPM2B_PUBLIC");
        var result = Read(ref inner);
        inner.EnsureAtEnd("TPM2B_PUBLIC");
        return result;
    }

    /// <summary>Parses TPM2B_PUBLIC bytes (size prefix included) that must hold nothing else.</summary>
    public static TpmPublic FromTpm2B(ReadOnlySpan<byte> tpm2bPublic)
    {
        var reader = new TpmReader(tpm2bPublic);
        var result = ReadSized(ref reader);
        reader.EnsureAtEnd("TPM2B_PUBLIC buffer");
        return result;
    }

    /// <summary>The object's Name: nameAlg (UINT16) || H(TPMT_PUBLIC).</summary>
    /// <remarks>Part 1 §16; the credential of dps-protocol.md §2.3 is bound to Name(SRK).</remarks>
    public byte[] ComputeName()
    {
        var body = ToBytes();
        byte[] digest = NameAlgorithm switch
        {
            TpmAlgorithm.Sha256 => SHA256.HashData(body),
            TpmAlgorithm.Sha384 => SHA384.HashData(body),
            TpmAlgorithm.Sha512 => SHA512.HashData(body),
            TpmAlgorithm.Sha1 => ComputeSha1(body),
            _ => throw new InvalidOperationException($"Name algorithm 0x{(ushort)NameAlgorithm:X4} is not supported."),
        };
        var name = new byte[2 + digest.Length];
        name[0] = (byte)((ushort)NameAlgorithm >> 8);
        name[1] = (byte)NameAlgorithm;
        digest.CopyTo(name, 2);
        return name;
    }

    /// <summary>Whether every field but <see cref="Unique"/> equals the template's: how a persisted key is recognised as the
    /// one a template creates (the unique field of a created key holds its modulus, not the template's zeros).</summary>
    public bool MatchesTemplate(TpmPublic template)
    {
        ArgumentNullException.ThrowIfNull(template);
        return Type == template.Type
            && NameAlgorithm == template.NameAlgorithm
            && Attributes == template.Attributes
            && AuthPolicy.Span.SequenceEqual(template.AuthPolicy.Span)
            && Symmetric == template.Symmetric
            && Scheme == template.Scheme
            && SchemeHash == template.SchemeHash
            && SchemeKdf == template.SchemeKdf
            && KeyBits == template.KeyBits
            && Exponent == template.Exponent
            && CurveId == template.CurveId
            && KdfHash == template.KdfHash;
    }

#pragma warning disable CA5350 // SHA-1 only names objects of TPMs that use it as nameAlg; it protects nothing here
    private static byte[] ComputeSha1(byte[] body) => SHA1.HashData(body);
#pragma warning restore CA5350
}

using System.Buffers.Binary;
using System.Globalization;

namespace Provisioning.Device.Tpm;

/// <summary>Describes, for a message, an object found at a handle where a key of ours belongs: its type, key size or curve
/// and attributes (TPM 2.0 Part 2 §12.2.4 TPMT_PUBLIC, §12.2.3.6 TPMS_ECC_PARMS), whatever its type.</summary>
internal static class PersistedObject
{
    /// <summary>E.g. "an ECC key on curve NIST P-256 (type 0x0023, attributes 0x000300B2)".</summary>
    /// <param name="tpm2bPublic">The TPM2B_PUBLIC as TPM2_ReadPublic returned it.</param>
    public static string Describe(ReadOnlySpan<byte> tpm2bPublic)
    {
        if (tpm2bPublic.Length < 10)
        {
            return "an object with a truncated public area";
        }

        var body = tpm2bPublic[2..];
        var type = BinaryPrimitives.ReadUInt16BigEndian(body);
        var attributes = BinaryPrimitives.ReadUInt32BigEndian(body[4..]);
        var tail = string.Create(CultureInfo.InvariantCulture, $"(type 0x{type:X4}, attributes 0x{attributes:X8})");
        try
        {
            switch ((TpmAlgorithm)type)
            {
                case TpmAlgorithm.Rsa:
                    var rsa = TpmPublic.FromTpm2B(tpm2bPublic);
                    return $"an RSA-{rsa.KeyBits} key {tail}";
                case TpmAlgorithm.KeyedHash:
                    return $"a keyed-hash (HMAC or sealed data) object {tail}";
                case TpmAlgorithm.SymCipher:
                    return $"a symmetric-cipher key {tail}";
                case Ecc:
                    return $"an ECC key on curve {CurveName(EccCurve(body))} {tail}";
                default:
                    return $"an object of type 0x{type:X4} {tail}";
            }
        }
        catch (TpmFormatException)
        {
            return $"an object whose public area does not parse {tail}";
        }
    }

    /// <summary>TPM_ALG_ECC.</summary>
    private const TpmAlgorithm Ecc = (TpmAlgorithm)0x0023;

    private static ushort EccCurve(ReadOnlySpan<byte> tpmtPublic)
    {
        var reader = new TpmReader(tpmtPublic);
        reader.ReadUInt16(); // type
        reader.ReadUInt16(); // nameAlg
        reader.ReadUInt32(); // objectAttributes
        reader.ReadSized(TpmConstants.MaxDigestSize, "TPM2B_DIGEST authPolicy");
        TpmSymmetricDefinition.Read(ref reader);
        var scheme = reader.ReadUInt16();
        if (scheme != (ushort)TpmAlgorithm.Null)
        {
            reader.ReadUInt16(); // the scheme's hash
        }

        return reader.ReadUInt16();
    }

    private static string CurveName(ushort curve) => curve switch
    {
        0x0001 => "NIST P-192",
        0x0002 => "NIST P-224",
        0x0003 => "NIST P-256",
        0x0004 => "NIST P-384",
        0x0005 => "NIST P-521",
        0x0010 => "BN P-256",
        0x0011 => "BN P-638",
        0x0020 => "SM2 P-256",
        _ => $"0x{curve:X4}",
    };
}

namespace Provisioning.Device.Tpm;

/// <summary>TPMT_SYM_DEF_OBJECT (and TPMT_SYM_DEF for block ciphers): algorithm, key bits, mode.</summary>
/// <remarks>TPM 2.0 Library Part 2, §11.1.6–11.1.7. With TPM_ALG_NULL only the algorithm is on the wire.</remarks>
/// <param name="Algorithm">TPM_ALG_AES or TPM_ALG_NULL.</param>
/// <param name="KeyBits">Key size in bits.</param>
/// <param name="Mode">Block mode, e.g. TPM_ALG_CFB.</param>
public readonly record struct TpmSymmetricDefinition(TpmAlgorithm Algorithm, ushort KeyBits, TpmAlgorithm Mode)
{
    /// <summary>TPM_ALG_NULL: no symmetric algorithm.</summary>
    public static TpmSymmetricDefinition None => new(TpmAlgorithm.Null, 0, TpmAlgorithm.Null);

    /// <summary>AES-128-CFB, the storage-key and inner-wrapper algorithm of the DPS flow (dps-protocol.md §2.1, §2.3).</summary>
    public static TpmSymmetricDefinition Aes128Cfb => new(TpmAlgorithm.Aes, 128, TpmAlgorithm.Cfb);

    /// <summary>Writes the structure.</summary>
    public void Write(TpmWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteUInt16((ushort)Algorithm);
        if (Algorithm == TpmAlgorithm.Null)
        {
            return;
        }

        if (Algorithm == TpmAlgorithm.Xor)
        {
            // TPMT_SYM_DEF: XOR carries a hash algorithm instead of key bits and has no mode.
            writer.WriteUInt16((ushort)Mode);
            return;
        }

        writer.WriteUInt16(KeyBits);
        writer.WriteUInt16((ushort)Mode);
    }

    /// <summary>Reads the structure.</summary>
    public static TpmSymmetricDefinition Read(ref TpmReader reader)
    {
        var algorithm = (TpmAlgorithm)reader.ReadUInt16();
        if (algorithm == TpmAlgorithm.Null)
        {
            return None;
        }

        if (algorithm == TpmAlgorithm.Xor)
        {
            return new TpmSymmetricDefinition(algorithm, 0, (TpmAlgorithm)reader.ReadUInt16());
        }

        return new TpmSymmetricDefinition(algorithm, reader.ReadUInt16(), (TpmAlgorithm)reader.ReadUInt16());
    }
}

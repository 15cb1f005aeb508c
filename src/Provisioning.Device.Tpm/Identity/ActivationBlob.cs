namespace Provisioning.Device.Tpm;

/// <summary>The six parts of a DPS <c>authenticationKey</c> blob, as slices of the blob (contents, without size prefixes).</summary>
/// <remarks>dps-protocol.md §2.3: TPM2B_ID_OBJECT | TPM2B_ENCRYPTED_SECRET (to the EK) | TPM2B_PRIVATE |
/// TPM2B_ENCRYPTED_SECRET (to the SRK) | TPM2B_PUBLIC | u16-sized encData (ignored). Each size is a big-endian UINT16.</remarks>
internal readonly record struct ActivationBlob(
    ReadOnlyMemory<byte> CredentialBlob,
    ReadOnlyMemory<byte> Secret,
    ReadOnlyMemory<byte> Duplicate,
    ReadOnlyMemory<byte> InSymSeed,
    ReadOnlyMemory<byte> ObjectPublic)
{
    /// <summary>Splits a blob; a broken container gives <see cref="TpmFormatException"/>.</summary>
    public static ActivationBlob Parse(ReadOnlyMemory<byte> blob)
    {
        var reader = new TpmReader(blob.Span);
        var credential = Part(ref reader, blob, "credentialBlob (TPM2B_ID_OBJECT)");
        var secret = Part(ref reader, blob, "secret (TPM2B_ENCRYPTED_SECRET)");
        var duplicate = Part(ref reader, blob, "duplicate (TPM2B_PRIVATE)");
        var seed = Part(ref reader, blob, "inSymSeed (TPM2B_ENCRYPTED_SECRET)");
        var objectPublic = Part(ref reader, blob, "objectPublic (TPM2B_PUBLIC)");
        Part(ref reader, blob, "encData");
        reader.EnsureAtEnd("The authenticationKey blob");
        if (credential.IsEmpty || secret.IsEmpty || duplicate.IsEmpty || seed.IsEmpty || objectPublic.IsEmpty)
        {
            throw new TpmFormatException("The authenticationKey blob has an empty part where the TPM needs data.");
        }

        // The identity key's public area must at least be a TPMT_PUBLIC we understand before the TPM sees it.
        var publicReader = new TpmReader(objectPublic.Span);
        var parsed = TpmPublic.Read(ref publicReader);
        publicReader.EnsureAtEnd("objectPublic (TPM2B_PUBLIC)");
        if (parsed.Type != TpmAlgorithm.KeyedHash)
        {
            throw new TpmFormatException($"The identity key in the blob is of type 0x{(ushort)parsed.Type:X4}, not KEYEDHASH.");
        }

        return new ActivationBlob(credential, secret, duplicate, seed, objectPublic);
    }

    private static ReadOnlyMemory<byte> Part(ref TpmReader reader, ReadOnlyMemory<byte> blob, string name)
    {
        try
        {
            var size = reader.ReadUInt16();
            var start = reader.Position;
            reader.ReadBytes(size);
            return blob.Slice(start, size);
        }
        catch (TpmFormatException e)
        {
            throw new TpmFormatException($"The authenticationKey blob is truncated in its {name} part.", e);
        }
    }
}

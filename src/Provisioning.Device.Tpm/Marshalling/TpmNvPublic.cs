namespace Provisioning.Device.Tpm;

/// <summary>TPMS_NV_PUBLIC: the public area of an NV index.</summary>
/// <remarks>TPM 2.0 Library Part 2, §13.5.</remarks>
/// <param name="Index">The NV index handle.</param>
/// <param name="NameAlgorithm">The hash algorithm of the index's Name.</param>
/// <param name="Attributes">TPMA_NV bits.</param>
/// <param name="AuthPolicy">The index's policy digest.</param>
/// <param name="DataSize">The size of the data area.</param>
public sealed record TpmNvPublic(uint Index, TpmAlgorithm NameAlgorithm, uint Attributes, ReadOnlyMemory<byte> AuthPolicy, ushort DataSize)
{
    /// <summary>TPMA_NV_AUTHREAD: the index's own auth value authorizes reads.</summary>
    public const uint AuthReadAttribute = 0x0004_0000;

    /// <summary>TPMA_NV_OWNERREAD: owner authorization authorizes reads.</summary>
    public const uint OwnerReadAttribute = 0x0002_0000;

    /// <summary>Reads a TPM2B_NV_PUBLIC (size prefix included).</summary>
    public static TpmNvPublic ReadSized(ref TpmReader reader)
    {
        var inner = reader.ReadSizedReader("TPM2B_NV_PUBLIC");
        var index = inner.ReadUInt32();
        var nameAlg = (TpmAlgorithm)inner.ReadUInt16();
        var attributes = inner.ReadUInt32();
        var policy = inner.ReadSized(TpmConstants.MaxDigestSize, "TPM2B_DIGEST").ToArray();
        var dataSize = inner.ReadUInt16();
        inner.EnsureAtEnd("TPMS_NV_PUBLIC");
        return new TpmNvPublic(index, nameAlg, attributes, policy, dataSize);
    }

    /// <summary>Writes the TPM2B_NV_PUBLIC (size prefix included).</summary>
    public void WriteSized(TpmWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        var mark = writer.BeginSized();
        writer.WriteUInt32(Index);
        writer.WriteUInt16((ushort)NameAlgorithm);
        writer.WriteUInt32(Attributes);
        writer.WriteSized(AuthPolicy.Span);
        writer.WriteUInt16(DataSize);
        writer.EndSized(mark);
    }
}

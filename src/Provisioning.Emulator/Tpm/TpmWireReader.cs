using System.Buffers.Binary;

namespace Provisioning.Emulator.Tpm;

/// <summary>Reads big-endian TPM 2.0 wire structures from a span; running short is a rejection, never an index error.</summary>
/// <remarks>TPM 2.0 Part 1 §18 (canonical big-endian marshalling). Every read names the field it was after, so the
/// <see cref="TpmAttestationRejectedException"/> says which key and which field were truncated.
/// The service side deliberately does not reuse the device-side marshalling in <c>Provisioning.Device.Tpm</c>: this is an
/// independent implementation, so a bug shared by both ends cannot hide behind a round trip that agrees with itself. Each side
/// is checked on its own against swtpm and tpm2-tools (tpm-lab.md; the Interop tests).</remarks>
internal ref struct TpmWireReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private readonly string _subject;

    public TpmWireReader(ReadOnlySpan<byte> buffer, string subject)
    {
        _buffer = buffer;
        _subject = subject;
        Position = 0;
    }

    /// <summary>Bytes consumed so far.</summary>
    public int Position { get; private set; }

    /// <summary>Bytes not yet consumed.</summary>
    public readonly int Remaining => _buffer.Length - Position;

    public ushort ReadUInt16(string field) => BinaryPrimitives.ReadUInt16BigEndian(Take(sizeof(ushort), field));

    public uint ReadUInt32(string field) => BinaryPrimitives.ReadUInt32BigEndian(Take(sizeof(uint), field));

    /// <summary>Reads a TPM2B: a u16 size, then that many bytes.</summary>
    public ReadOnlySpan<byte> ReadSized(string field)
    {
        var size = ReadUInt16(field + " size");
        return Take(size, field);
    }

    public ReadOnlySpan<byte> ReadBytes(int count, string field) => Take(count, field);

    /// <summary>Rejects bytes left over after the structure.</summary>
    public readonly void EnsureEnd(string structure)
    {
        if (Remaining != 0)
        {
            throw new TpmAttestationRejectedException(
                $"{_subject}: {Remaining} unexpected trailing byte(s) after {structure}.");
        }
    }

    private ReadOnlySpan<byte> Take(int count, string field)
    {
        if (count > Remaining)
        {
            throw new TpmAttestationRejectedException(
                $"{_subject} is truncated: {field} needs {count} byte(s) at offset {Position} but only {Remaining} remain.");
        }

        var slice = _buffer.Slice(Position, count);
        Position += count;
        return slice;
    }
}

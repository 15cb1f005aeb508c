using System.Buffers.Binary;

namespace Provisioning.Emulator.Tpm;

/// <summary>Writes big-endian TPM 2.0 wire structures into a span sized by the caller.</summary>
/// <remarks>TPM 2.0 Part 1 §18. The issuer computes every size up front, so running out of room is a bug here, not bad input.
/// The service side deliberately does not reuse the device-side marshalling in <c>Provisioning.Device.Tpm</c>: this is an
/// independent implementation, so a bug shared by both ends cannot hide behind a round trip that agrees with itself. Each side
/// is checked on its own against swtpm and tpm2-tools (tpm-lab.md; the Interop tests).</remarks>
internal ref struct TpmWireWriter
{
    private readonly Span<byte> _buffer;

    public TpmWireWriter(Span<byte> buffer)
    {
        _buffer = buffer;
        Position = 0;
    }

    /// <summary>Bytes written so far.</summary>
    public int Position { get; private set; }

    /// <summary>The bytes written so far.</summary>
    public readonly Span<byte> Written => _buffer[..Position];

    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Advance(sizeof(ushort)), value);

    public void WriteUInt16(int value) => WriteUInt16(checked((ushort)value));

    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Advance(sizeof(uint)), value);

    public void WriteBytes(scoped ReadOnlySpan<byte> value) => value.CopyTo(Advance(value.Length));

    /// <summary>Writes a TPM2B: a u16 size, then the bytes.</summary>
    public void WriteSized(scoped ReadOnlySpan<byte> value)
    {
        WriteUInt16(value.Length);
        WriteBytes(value);
    }

    /// <summary>Reserves <paramref name="count"/> bytes for the caller to fill in place.</summary>
    public Span<byte> Advance(int count)
    {
        if (count > _buffer.Length - Position)
        {
            throw new InvalidOperationException($"TPM structure overflows its {_buffer.Length}-byte buffer.");
        }

        var slice = _buffer.Slice(Position, count);
        Position += count;
        return slice;
    }
}

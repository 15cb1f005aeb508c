using System.Buffers.Binary;

namespace Provisioning.Device.Tpm;

/// <summary>
/// Reads big-endian TPM 2.0 structures from a span: commands (for a TPM implementation) and responses (for a client).
/// </summary>
/// <remarks>TPM 2.0 Library Part 1, §18 (canonical, big-endian marshalling). Every read checks the remaining length
/// and throws <see cref="TpmFormatException"/> on truncation; nothing is copied unless asked for.</remarks>
public ref struct TpmReader
{
    private readonly ReadOnlySpan<byte> _buffer;

    /// <summary>Starts reading at the beginning of <paramref name="buffer"/>.</summary>
    public TpmReader(ReadOnlySpan<byte> buffer)
    {
        _buffer = buffer;
        Position = 0;
    }

    /// <summary>The number of bytes consumed so far.</summary>
    public int Position { get; private set; }

    /// <summary>The number of bytes left.</summary>
    public readonly int Remaining => _buffer.Length - Position;

    /// <summary>Whether every byte was consumed.</summary>
    public readonly bool IsAtEnd => Position == _buffer.Length;

    /// <summary>Reads a UINT8 / BYTE.</summary>
    public byte ReadByte() => Take(1, "UINT8")[0];

    /// <summary>Reads a big-endian UINT16.</summary>
    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16BigEndian(Take(2, "UINT16"));

    /// <summary>Reads a big-endian UINT32.</summary>
    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32BigEndian(Take(4, "UINT32"));

    /// <summary>Reads a big-endian INT32.</summary>
    public int ReadInt32() => BinaryPrimitives.ReadInt32BigEndian(Take(4, "INT32"));

    /// <summary>Reads a big-endian UINT64.</summary>
    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64BigEndian(Take(8, "UINT64"));

    /// <summary>Reads exactly <paramref name="count"/> bytes without copying.</summary>
    public ReadOnlySpan<byte> ReadBytes(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        return Take(count, "byte array");
    }

    /// <summary>Reads a TPM2B_*: a UINT16 size then that many bytes, refusing sizes above <paramref name="maxSize"/>.</summary>
    /// <param name="maxSize">The largest size the structure allows (for example 64 for TPM2B_DIGEST).</param>
    /// <param name="structure">The TPM type name, for the error message.</param>
    public ReadOnlySpan<byte> ReadSized(int maxSize = ushort.MaxValue, string structure = "TPM2B")
    {
        var start = Position;
        var size = ReadUInt16();
        if (size > maxSize)
        {
            throw new TpmFormatException($"{structure} at offset {start} claims {size} bytes; at most {maxSize} are allowed.");
        }

        return Take(size, structure);
    }

    /// <summary>Reads a TPM2B_* and returns a reader confined to its contents (for nested structures such as TPM2B_PUBLIC).</summary>
    public TpmReader ReadSizedReader(string structure = "TPM2B") => new(ReadSized(ushort.MaxValue, structure));

    /// <summary>Reads everything left.</summary>
    public ReadOnlySpan<byte> ReadRemaining() => Take(Remaining, "trailing bytes");

    /// <summary>Throws unless every byte was consumed.</summary>
    /// <param name="structure">The structure that should have ended, for the error message.</param>
    public readonly void EnsureAtEnd(string structure)
    {
        if (!IsAtEnd)
        {
            throw new TpmFormatException($"{structure} has {Remaining} unexpected trailing byte(s) at offset {Position}.");
        }
    }

    private ReadOnlySpan<byte> Take(int count, string what)
    {
        if (count > Remaining)
        {
            throw new TpmFormatException($"Truncated TPM data: {what} at offset {Position} needs {count} byte(s), {Remaining} left.");
        }

        var slice = _buffer.Slice(Position, count);
        Position += count;
        return slice;
    }
}

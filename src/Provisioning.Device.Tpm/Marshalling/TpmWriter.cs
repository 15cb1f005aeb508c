using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>
/// Writes big-endian TPM 2.0 structures into a growable pooled buffer: commands (for a client) and responses (for a TPM implementation).
/// </summary>
/// <remarks>TPM 2.0 Library Part 1, §18. Size fields (TPM2B sizes, command/response sizes, authorization sizes) are written as
/// placeholders and patched when the structure ends, so callers never compute sizes by hand. <see cref="Dispose"/> zeroes the
/// buffer before returning it to the pool, because commands may carry secrets.</remarks>
public sealed class TpmWriter : IDisposable
{
    private byte[] _buffer;

    /// <summary>Creates a writer with room for <paramref name="initialCapacity"/> bytes.</summary>
    public TpmWriter(int initialCapacity = 256)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(initialCapacity);
        _buffer = ArrayPool<byte>.Shared.Rent(initialCapacity);
    }

    /// <summary>The number of bytes written.</summary>
    public int Length { get; private set; }

    /// <summary>The bytes written so far.</summary>
    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, Length);

    /// <summary>The bytes written so far, as memory (valid until the next write or <see cref="Dispose"/>).</summary>
    public ReadOnlyMemory<byte> WrittenMemory => _buffer.AsMemory(0, Length);

    /// <summary>Writes a UINT8 / BYTE.</summary>
    public void WriteByte(byte value) => Grow(1)[0] = value;

    /// <summary>Writes a big-endian UINT16.</summary>
    public void WriteUInt16(ushort value) => BinaryPrimitives.WriteUInt16BigEndian(Grow(2), value);

    /// <summary>Writes a big-endian UINT32.</summary>
    public void WriteUInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Grow(4), value);

    /// <summary>Writes a big-endian INT32.</summary>
    public void WriteInt32(int value) => BinaryPrimitives.WriteInt32BigEndian(Grow(4), value);

    /// <summary>Writes a big-endian UINT64.</summary>
    public void WriteUInt64(ulong value) => BinaryPrimitives.WriteUInt64BigEndian(Grow(8), value);

    /// <summary>Writes raw bytes.</summary>
    public void WriteBytes(ReadOnlySpan<byte> value) => value.CopyTo(Grow(value.Length));

    /// <summary>Writes a TPM2B_*: a UINT16 size then the bytes.</summary>
    public void WriteSized(ReadOnlySpan<byte> value)
    {
        if (value.Length > ushort.MaxValue)
        {
            throw new ArgumentException("A TPM2B holds at most 65535 bytes.", nameof(value));
        }

        WriteUInt16((ushort)value.Length);
        WriteBytes(value);
    }

    /// <summary>Starts a TPM2B whose contents are written next; pass the result to <see cref="EndSized"/>.</summary>
    public int BeginSized()
    {
        WriteUInt16(0);
        return Length;
    }

    /// <summary>Patches the UINT16 size of a TPM2B started with <see cref="BeginSized"/>.</summary>
    public void EndSized(int mark)
    {
        var size = Length - mark;
        if (mark < 2 || size < 0 || size > ushort.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(mark));
        }

        BinaryPrimitives.WriteUInt16BigEndian(_buffer.AsSpan(mark - 2, 2), (ushort)size);
    }

    /// <summary>Starts a region preceded by a UINT32 size (an authorization area or parameter area); pass the result to <see cref="EndSized32"/>.</summary>
    public int BeginSized32()
    {
        WriteUInt32(0);
        return Length;
    }

    /// <summary>Patches the UINT32 size of a region started with <see cref="BeginSized32"/>.</summary>
    public void EndSized32(int mark)
    {
        if (mark < 4 || mark > Length)
        {
            throw new ArgumentOutOfRangeException(nameof(mark));
        }

        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(mark - 4, 4), (uint)(Length - mark));
    }

    /// <summary>Writes a command or response header (tag, size placeholder, command or response code).</summary>
    /// <remarks>Part 1 §18.9–18.10: the size counts the whole message; <see cref="EndMessage"/> patches it.</remarks>
    public void BeginMessage(TpmStructureTag tag, uint code)
    {
        if (Length != 0)
        {
            throw new InvalidOperationException("A message header must be the first thing written.");
        }

        WriteUInt16((ushort)tag);
        WriteUInt32(0);
        WriteUInt32(code);
    }

    /// <summary>Patches the total size into the header written by <see cref="BeginMessage"/>.</summary>
    public void EndMessage()
    {
        if (Length < TpmMessage.HeaderSize)
        {
            throw new InvalidOperationException("No message header was written.");
        }

        BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(2, 4), (uint)Length);
    }

    /// <summary>Copies the bytes written into a new array.</summary>
    public byte[] ToArray() => WrittenSpan.ToArray();

    /// <summary>Zeroes what was written and starts again.</summary>
    public void Clear()
    {
        CryptographicOperations.ZeroMemory(_buffer.AsSpan(0, Length));
        Length = 0;
    }

    /// <summary>Zeroes the buffer and returns it to the pool.</summary>
    public void Dispose()
    {
        if (_buffer.Length == 0)
        {
            return;
        }

        Clear();
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = [];
    }

    private Span<byte> Grow(int count)
    {
        ObjectDisposedException.ThrowIf(_buffer.Length == 0, this);
        if (Length + count > _buffer.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(_buffer.Length * 2, Length + count));
            _buffer.AsSpan(0, Length).CopyTo(bigger);
            CryptographicOperations.ZeroMemory(_buffer.AsSpan(0, Length));
            ArrayPool<byte>.Shared.Return(_buffer);
            _buffer = bigger;
        }

        var span = _buffer.AsSpan(Length, count);
        Length += count;
        return span;
    }
}

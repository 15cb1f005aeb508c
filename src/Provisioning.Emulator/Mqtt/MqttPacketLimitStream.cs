namespace Provisioning.Emulator.Mqtt;

/// <summary>
/// Caps the size of every MQTT packet a client sends, before MQTTnet sees its length (MQTTnet allocates a packet's whole
/// body as soon as it has read the remaining length): <see cref="BeforeAuthentication"/> until the server has sent a
/// successful CONNACK, then <see cref="AfterAuthentication"/>. A packet over the cap ends the connection at its header,
/// so an unauthenticated client announcing 256 MB costs a few bytes, not 256 MB.
/// </summary>
/// <remarks>
/// The stream follows the MQTT framing of what passes through it: a fixed-header byte, a remaining length of 1–4 bytes
/// of 7 bits each (MQTT 3.1.1 §2.2.3), then that many body bytes. A fifth length byte is malformed and also ends the
/// connection. Writes are watched only for the server's first packet, the CONNACK, and its return code. The caller owns
/// (and disposes) the inner stream.
/// </remarks>
internal sealed class MqttPacketLimitStream(Stream inner, int beforeAuthentication, int afterAuthentication) : Stream
{
    private enum ReadState
    {
        Header,
        Length,
        Body,
    }

    private ReadState _state = ReadState.Header;
    private int _length;
    private int _lengthBytes;
    private long _bodyLeft;

    // The first bytes the server writes: a CONNACK is 0x20, 0x02, flags, return code.
    private readonly byte[] _connack = new byte[4];
    private int _connackSeen;
    private volatile bool _authenticated;

    /// <summary>The largest packet (remaining length) before a successful CONNACK.</summary>
    public int BeforeAuthentication { get; } = beforeAuthentication;

    /// <summary>The largest packet (remaining length) after a successful CONNACK.</summary>
    public int AfterAuthentication { get; } = afterAuthentication;

    /// <summary>Whether the server has accepted the client's CONNECT.</summary>
    public bool IsAuthenticated => _authenticated;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Inspect(buffer.Span[..read]);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count)
    {
        var read = inner.Read(buffer, offset, count);
        Inspect(buffer.AsSpan(offset, read));
        return read;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Watch(buffer.Span);
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count)
    {
        Watch(buffer.AsSpan(offset, count));
        inner.Write(buffer, offset, count);
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override void Flush() => inner.Flush();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    /// <summary>Follows the framing of the bytes read; throws when a packet's announced length is over the cap.</summary>
    private void Inspect(ReadOnlySpan<byte> bytes)
    {
        var i = 0;
        while (i < bytes.Length)
        {
            switch (_state)
            {
                case ReadState.Header:
                    i++;
                    _state = ReadState.Length;
                    _length = 0;
                    _lengthBytes = 0;
                    break;
                case ReadState.Length:
                    var digit = bytes[i++];
                    _length |= (digit & 0x7F) << (7 * _lengthBytes);
                    _lengthBytes++;
                    var cap = _authenticated ? AfterAuthentication : BeforeAuthentication;
                    if (_length > cap)
                    {
                        throw new IOException(_authenticated
                            ? $"The client announced an MQTT packet of at least {_length} bytes; the limit is {cap}."
                            : $"The client announced an MQTT packet of at least {_length} bytes before authenticating; the limit is {cap}.");
                    }

                    if ((digit & 0x80) == 0)
                    {
                        _bodyLeft = _length;
                        _state = _bodyLeft == 0 ? ReadState.Header : ReadState.Body;
                    }
                    else if (_lengthBytes == 4)
                    {
                        throw new IOException("The client sent a malformed MQTT remaining length (more than 4 bytes).");
                    }

                    break;
                default:
                    var take = (int)Math.Min(_bodyLeft, bytes.Length - i);
                    i += take;
                    _bodyLeft -= take;
                    if (_bodyLeft == 0)
                    {
                        _state = ReadState.Header;
                    }

                    break;
            }
        }
    }

    /// <summary>Looks at the server's first four bytes: a CONNACK with return code 0 lifts the cap to the authenticated one.</summary>
    private void Watch(ReadOnlySpan<byte> bytes)
    {
        if (_connackSeen >= _connack.Length)
        {
            return;
        }

        var take = Math.Min(bytes.Length, _connack.Length - _connackSeen);
        bytes[..take].CopyTo(_connack.AsSpan(_connackSeen));
        _connackSeen += take;
        if (_connackSeen == _connack.Length && _connack[0] == 0x20 && _connack[3] == 0)
        {
            _authenticated = true;
        }
    }
}

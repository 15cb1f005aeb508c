using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

using MQTTnet.Channel;

namespace Provisioning.Device.Transport.Mqtt;

/// <summary>MQTT over TCP and TLS (port 8883), with the client certificate's chain sent in the handshake.</summary>
/// <remarks>
/// Our own channel rather than MQTTnet's, because only <see cref="SslClientAuthenticationOptions.ClientCertificateContext"/>
/// sends the intermediates without installing them in a store (dps-protocol.md §4), and trust must go through the
/// same custom-root check as HTTPS.
/// </remarks>
internal sealed class TlsTcpChannel : IMqttChannel
{
    private readonly SocketEndpoint _endpoint;
    /// <summary>MQTT 3.1.1 §3.14: the DISCONNECT packet's first byte.</summary>
    private const byte DisconnectPacket = 0xE0;

    /// <summary>The most a packet's pieces are gathered into one write (MQTTnet writes a PUBLISH as its header, then its payload).</summary>
    private const int MaxGatheredBytes = 4096;

    private readonly MqttPacketSizeGuard _guard = new();
    private SslStream? _stream;
    private Socket? _socket;
    private byte[]? _gathered;
    private int _gatheredLength;
    private volatile bool _disconnecting;

    public TlsTcpChannel(SocketEndpoint endpoint)
    {
        _endpoint = endpoint;
    }

    public X509Certificate2? ClientCertificate => _endpoint.ClientCertificate?.TargetCertificate;

    public EndPoint? RemoteEndPoint { get; private set; }

    public EndPoint? LocalEndPoint { get; private set; }

    public bool IsSecureConnection => true;

    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await socket.ConnectAsync(_endpoint.Host, _endpoint.Port, cancellationToken).ConfigureAwait(false);
            RemoteEndPoint = socket.RemoteEndPoint;
            LocalEndPoint = socket.LocalEndPoint;
            var stream = new SslStream(new NetworkStream(socket, ownsSocket: true));
            _stream = stream;
            _socket = socket;
            await stream.AuthenticateAsClientAsync(
                _endpoint.CreateTlsOptions(),
                cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The half-open socket or stream must not outlive the failed attempt; the caller sees the exception.
            Close(socket);
            throw;
        }
    }

    /// <summary>Shuts the connection down both ways: a pending read ends as end of stream (MQTTnet's adapter reads it as the
    /// connection closed, no exception). The stream is closed by <see cref="Dispose"/>, once the reader has seen the end: closing it
    /// under a pending read aborted the read with an exception (six first-chance exceptions per registration before).</summary>
    public Task DisconnectAsync(CancellationToken cancellationToken)
    {
        ShutDown();
        return Task.CompletedTask;
    }

    /// <remarks>
    /// A read that completes at once (MQTTnet's adapter reads a packet's header and body in pieces, mostly from the TLS record
    /// already decrypted) costs no cancellation registration or completion source, and its state machine stays on the stack. The
    /// connection's receive loop reads with no token and ends when <see cref="DisconnectAsync"/> or <see cref="Dispose"/> ends the
    /// connection; a caller that passes one has a cancellation shut the socket down, reported as the cancellation it is (before
    /// DISCONNECT) or as the closed connection (after it).
    /// </remarks>
    public async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValueTask<int> read = Stream.ReadAsync(buffer.AsMemory(offset, count), CancellationToken.None);
        int received;
        if (read.IsCompleted && !cancellationToken.IsCancellationRequested)
        {
            received = await read.ConfigureAwait(false);
        }
        else
        {
            using (cancellationToken.UnsafeRegister(static state => ((TlsTcpChannel)state!).ShutDown(), this))
            {
                received = await read.ConfigureAwait(false);
            }

            if (received == 0 && cancellationToken.IsCancellationRequested && !_disconnecting)
            {
                throw new OperationCanceledException(cancellationToken);
            }
        }

        _guard.Observe(buffer.AsSpan(offset, received));
        return received;
    }

    /// <remarks>
    /// A PUBLISH arrives from MQTTnet as two writes (its header, then its payload): they are gathered into one TLS record (one
    /// encryption and one send instead of two). The gathering buffer is pooled and zeroed after use (CONNECT carries the SAS token;
    /// it comes as one piece, but nothing written is kept).
    /// </remarks>
    public async Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
    {
        SslStream stream = Stream;
        if (buffer.Length == 2 && buffer.FirstSpan[0] == DisconnectPacket)
        {
            _disconnecting = true;
        }

        if (_gatheredLength + buffer.Length <= MaxGatheredBytes && (!isEndOfPacket || _gatheredLength > 0))
        {
            _gathered ??= ArrayPool<byte>.Shared.Rent(MaxGatheredBytes);
            buffer.CopyTo(_gathered.AsSpan(_gatheredLength));
            _gatheredLength += (int)buffer.Length;
            if (!isEndOfPacket)
            {
                return;
            }

            buffer = ReadOnlySequence<byte>.Empty;
        }

        await WriteGatheredAsync(stream, cancellationToken).ConfigureAwait(false);
        foreach (ReadOnlyMemory<byte> segment in buffer)
        {
            await stream.WriteAsync(segment, cancellationToken).ConfigureAwait(false);
        }

        if (isEndOfPacket)
        {
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose() => Close(socket: null);

    private SslStream Stream => _stream ?? throw new InvalidOperationException("The channel is not connected.");

    private async ValueTask WriteGatheredAsync(SslStream stream, CancellationToken cancellationToken)
    {
        if (_gatheredLength == 0)
        {
            return;
        }

        try
        {
            await stream.WriteAsync(_gathered.AsMemory(0, _gatheredLength), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ReturnGathered();
        }
    }

    private void ReturnGathered()
    {
        if (Interlocked.Exchange(ref _gathered, null) is { } gathered)
        {
            CryptographicOperations.ZeroMemory(gathered.AsSpan(0, _gatheredLength));
            ArrayPool<byte>.Shared.Return(gathered);
        }

        _gatheredLength = 0;
    }

    /// <summary>Shuts the socket down both ways: a pending receive completes with end of stream. False when already closed.</summary>
    private bool ShutDown()
    {
        try
        {
            _socket?.Shutdown(SocketShutdown.Both);
            return _socket is not null;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    private void Close(Socket? socket)
    {
        SslStream? stream = Interlocked.Exchange(ref _stream, null);
        stream?.Dispose();
        socket?.Dispose();
        _socket = null;
        ReturnGathered();
    }
}

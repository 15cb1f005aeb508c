using System.Buffers;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
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

    /// <summary>How long closing waits for the pending read to end after the socket is shut down (it ends at once).</summary>
    private static readonly TimeSpan ReadEndDeadline = TimeSpan.FromSeconds(1);

    private readonly MqttPacketSizeGuard _guard = new();
    private SslStream? _stream;
    private Socket? _socket;
    private CancellationTokenSource? _readCancellation;
    private TaskCompletionSource? _readEnded;
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

    /// <remarks>After DISCONNECT, the socket is shut down and the pending read is let end (with end of stream) before the stream
    /// is closed: closing it under the read aborted the read, and MQTTnet's cancellation of it cost six first-chance exceptions
    /// per registration (rethrown through SslStream, this channel and MQTTnet's reader).</remarks>
    public async Task DisconnectAsync(CancellationToken cancellationToken)
    {
        if (_disconnecting && Volatile.Read(ref _readEnded) is { } readEnded)
        {
            ShutDown();
            try
            {
                await readEnded.Task.WaitAsync(ReadEndDeadline, CancellationToken.None).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                // The read did not end: closing the stream below aborts it.
            }
        }

        Dispose();
    }

    /// <remarks>
    /// The read waits on a token of our own. Before DISCONNECT, a cancellation (a timeout, the caller's) cancels it as it always
    /// did. Once DISCONNECT is sent, a cancellation (MQTTnet stopping its receive loop) shuts the socket down instead, and the read
    /// ends as a closed connection, which is how MQTTnet's loop ends without an exception.
    /// </remarks>
    public async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        SslStream stream = Stream;
        var ended = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _readEnded, ended);
        try
        {
            CancellationTokenSource own = _readCancellation ??= new CancellationTokenSource();
            int read;
            using (cancellationToken.UnsafeRegister(static state => ((TlsTcpChannel)state!).OnReadCancelled(), this))
            {
                try
                {
                    read = await stream.ReadAsync(buffer.AsMemory(offset, count), own.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (own.IsCancellationRequested)
                {
                    _readCancellation = null;
                    own.Dispose();
                    throw new OperationCanceledException(cancellationToken);
                }
            }

            _guard.Observe(buffer.AsSpan(offset, read));
            return read;
        }
        finally
        {
            ended.TrySetResult();
        }
    }

    public async Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
    {
        SslStream stream = Stream;
        if (buffer.Length == 2 && buffer.FirstSpan[0] == DisconnectPacket)
        {
            _disconnecting = true;
        }

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

    private void OnReadCancelled()
    {
        if (_disconnecting && ShutDown())
        {
            return;
        }

        try
        {
            _readCancellation?.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // The read has ended meanwhile.
        }
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
        Interlocked.Exchange(ref _readCancellation, null)?.Dispose();
    }
}

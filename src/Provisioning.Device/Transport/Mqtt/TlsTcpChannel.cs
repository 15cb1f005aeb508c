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
    private readonly MqttPacketSizeGuard _guard = new();
    private SslStream? _stream;

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
            await stream.AuthenticateAsClientAsync(
                new SslClientAuthenticationOptions
                {
                    TargetHost = _endpoint.Host,
                    ClientCertificateContext = _endpoint.ClientCertificate,
                    RemoteCertificateValidationCallback = _endpoint.ServerCertificateValidation,
                    CertificateChainPolicy = _endpoint.ServerCertificateChainPolicy,
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // The half-open socket or stream must not outlive the failed attempt; the caller sees the exception.
            Close(socket);
            throw;
        }
    }

    public Task DisconnectAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public async Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        int read = await Stream.ReadAsync(buffer.AsMemory(offset, count), cancellationToken).ConfigureAwait(false);
        _guard.Observe(buffer.AsSpan(offset, read));
        return read;
    }

    public async Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
    {
        SslStream stream = Stream;
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

    private void Close(Socket? socket)
    {
        SslStream? stream = Interlocked.Exchange(ref _stream, null);
        stream?.Dispose();
        socket?.Dispose();
    }
}

using System.Globalization;
using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;
using MQTTnet.Channel;
using Provisioning.Device.Transport;

namespace Provisioning.Device.Hub.Mqtt;

/// <summary>Opens the byte stream MQTTnet speaks over: TLS over TCP (8883), or a secure WebSocket (443,
/// <c>/$iothub/websocket</c>, subprotocol <c>mqtt</c>). TLS is ours so that the client certificate is an
/// <see cref="SslStreamCertificateContext"/>, the trust is the system store plus the configured roots, and the host-name mapping applies to both.
/// Received packets are size-checked (<see cref="PacketSizeGuardedStream"/>).</summary>
/// <remarks>dps-protocol.md §8 (host/port row).</remarks>
internal sealed class HubStreamProvider(string hubHostName, HubAuthentication authentication, DeviceClientOptions options) : IMqttClientStreamProvider
{
    private const int MqttPort = 8883;
    private const int WebSocketPort = 443;

    public async Task<Stream> ConnectAsync(EndPoint brokerEndPoint, CancellationToken cancellationToken) =>
        new PacketSizeGuardedStream(options.Transport != HubTransport.MqttWebSocket
            ? await ConnectTlsAsync(cancellationToken).ConfigureAwait(false)
            : HubFeatures.IsWebSocketsSupported
                ? await ConnectWebSocketAsync(cancellationToken).ConfigureAwait(false)
                : throw HubFeatures.WebSocketsRemoved());

    private async Task<Stream> ConnectTlsAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            var target = Resolve(hubHostName, MqttPort);
            try
            {
                await socket.ConnectAsync(target, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException ex)
            {
                // Say where and what: the hub name, the address dialled and the socket error.
                throw new IOException(string.Create(CultureInfo.InvariantCulture,
                    $"Could not connect to the hub {hubHostName} at {target}: {ex.SocketErrorCode} ({ex.NativeErrorCode}, {ex.Message})."), ex);
            }

            var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
            string? refusal = null;
            try
            {
                await tls.AuthenticateAsClientAsync(TlsOptions(reason => refusal = reason), cancellationToken).ConfigureAwait(false);
                return tls;
            }
            catch (System.Security.Authentication.AuthenticationException ex) when (refusal is not null)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                throw new System.Security.Authentication.AuthenticationException(
                    $"The TLS handshake with the hub {hubHostName} at {target} failed: the hub certificate was refused: {refusal}.", ex);
            }
            catch
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private async Task<Stream> ConnectWebSocketAsync(CancellationToken cancellationToken)
    {
        var handler = new SocketsHttpHandler
        {
            SslOptions = TlsOptions(),
            Proxy = options.Proxy,
            UseProxy = options.Proxy is not null,
            ConnectCallback = async (context, token) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    // With a proxy the handler dials the proxy; only the hub itself is mapped.
                    var target = string.Equals(context.DnsEndPoint.Host, hubHostName, StringComparison.OrdinalIgnoreCase)
                        ? Resolve(hubHostName, context.DnsEndPoint.Port)
                        : context.DnsEndPoint;
                    await socket.ConnectAsync(target, token).ConfigureAwait(false);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        };
        // The upgraded connection leaves the handler's pool, so the handler can go once the WebSocket is open.
        using var invoker = new HttpMessageInvoker(handler, disposeHandler: true);
        var webSocket = new ClientWebSocket();
        webSocket.Options.AddSubProtocol("mqtt");
        try
        {
            var uri = new Uri(string.Create(CultureInfo.InvariantCulture, $"wss://{hubHostName}:{WebSocketPort}/$iothub/websocket"));
            await webSocket.ConnectAsync(uri, invoker, cancellationToken).ConfigureAwait(false);
            return WebSocketStream.Create(webSocket, WebSocketMessageType.Binary, ownsWebSocket: true);
        }
        catch
        {
            webSocket.Dispose();
            throw;
        }
    }

    private SslClientAuthenticationOptions TlsOptions(Action<string>? onRefused = null)
    {
        // The system store plus the configured roots (the emulator's CA), checked as for DPS; validation stays on. With configured
        // roots the handshake builds its chain against them first, so the system store is read only when they do not vouch.
        return new SslClientAuthenticationOptions
        {
            TargetHost = hubHostName,
            ClientCertificateContext = authentication.ClientCertificate,
            RemoteCertificateValidationCallback = ServerCertificateTrust.CreateCallback(options.TrustedRootCertificates, onRefused),
            CertificateChainPolicy = ServerCertificateTrust.CreateChainPolicy(options.TrustedRootCertificates),
        };
    }

    /// <summary>The address to dial: the mapped <c>host:port</c> if any, else the hub on its standard port.</summary>
    private EndPoint Resolve(string host, int port)
    {
        if (!options.HubAddresses.TryGetValue(host, out var address))
        {
            return new DnsEndPoint(host, port);
        }

        if (IPEndPoint.TryParse(address, out var ip) && ip.Port != 0)
        {
            return ip;
        }

        var colon = address.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var mappedPort))
        {
            throw new HubException($"The address '{address}' mapped for hub '{host}' is not host:port.");
        }

        return new DnsEndPoint(address[..colon], mappedPort);
    }
}

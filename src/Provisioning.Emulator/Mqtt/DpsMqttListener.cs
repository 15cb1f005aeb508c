using System.Net;
using System.Net.WebSockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.WebSockets;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Server;

using Provisioning.Emulator.Certificates;

using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Mqtt;

/// <summary>
/// The sockets of the DPS MQTT endpoint, on Kestrel: MQTT over TLS (<c>mqtts://host:port</c>) and MQTT over secure
/// WebSockets (<c>wss://host:port/</c> or <c>/$iothub/websocket</c>, subprotocol <c>mqtt</c>). Each connection is handed to
/// the MQTTnet server with its TLS client certificate, so X.509 works on both.
/// </summary>
/// <remarks>
/// dps-protocol.md §5: CS opens the WebSocket with no path, C with <c>/$iothub/websocket</c>; both are served. Kestrel does
/// the TLS (the emulator CA's server certificate, client certificates requested and checked against enrollments later,
/// as over HTTPS) and binds port 0 without a race.
/// </remarks>
internal sealed class DpsMqttListener : IMqttServerAdapter, IAsyncDisposable
{
    /// <summary>The WebSocket path of the C SDK.</summary>
    public const string WebSocketPath = WebSocketUpgrade.Path;

    private const string SubProtocol = "mqtt";

    private readonly WebApplication _app;
    private ListenOptions? _tcp;
    private ListenOptions? _webSocket;
    private IMqttNetLogger _mqttLogger = MqttNetNullLogger.Instance;
    private MqttServerOptions? _serverOptions;

    // What each connection's client sent besides its certificate, found again from the certificate MQTTnet hands to CONNECT.
    private readonly ConditionalWeakTable<X509Certificate2, PresentedCertificates> _presented = new();

    private DpsMqttListener(X509Certificate2 serverCertificate, int? tcpPort, int? webSocketPort, ILoggerFactory? loggerFactory, TimeSpan? handshakeTimeout)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddSingleton(loggerFactory ?? NullLoggerFactory.Instance);
        builder.Services.AddWebSockets(_ => { });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            if (tcpPort is { } tcp)
            {
                kestrel.Listen(IPAddress.Loopback, tcp, listen =>
                {
                    _tcp = listen;
                    listen.UseDeviceTls(serverCertificate, handshakeTimeout);
                    listen.Run(ServeTcpAsync);
                });
            }

            if (webSocketPort is { } webSocket)
            {
                kestrel.Listen(IPAddress.Loopback, webSocket, listen =>
                {
                    _webSocket = listen;
                    listen.UseDeviceTls(serverCertificate, handshakeTimeout);
                });
            }
        });
        _app = builder.Build();
        _app.UseWebSockets();
        _app.Run(ServeWebSocketAsync);
    }

    /// <inheritdoc />
    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    /// <summary>The TCP port, once started; null when MQTT over TCP is off.</summary>
    public int? TcpPort => _tcp?.IPEndPoint?.Port;

    /// <summary>The WebSocket port, once started; null when WebSockets are off.</summary>
    public int? WebSocketPort => _webSocket?.IPEndPoint?.Port;

    /// <summary>Builds the listener; nothing listens until <see cref="ListenAsync"/>.</summary>
    public static DpsMqttListener Create(X509Certificate2 serverCertificate, int? tcpPort, int? webSocketPort, ILoggerFactory? loggerFactory,
        TimeSpan? handshakeTimeout = null) =>
        new(serverCertificate, tcpPort, webSocketPort, loggerFactory, handshakeTimeout);

    /// <summary>Opens the sockets (after the MQTT server has started and set <see cref="ClientHandler"/>).</summary>
    public Task ListenAsync(CancellationToken cancellationToken) => _app.StartAsync(cancellationToken);

    /// <summary>The intermediates sent in the handshake that carried <paramref name="clientCertificate"/> (as CONNECT reports it).</summary>
    public IReadOnlyList<byte[]> IntermediatesOf(X509Certificate2? clientCertificate) =>
        clientCertificate is not null && _presented.TryGetValue(clientCertificate, out var presented) ? presented.Intermediates : [];

    /// <inheritdoc />
    public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger)
    {
        _serverOptions = options;
        _mqttLogger = logger;
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task StopAsync() => Task.CompletedTask;

    /// <summary>Closes the sockets (the MQTT server is stopped first, which ends every session).</summary>
    public async ValueTask DisposeAsync()
    {
        // A socket that never sent CONNECT is not ended by the MQTT server's stop; it is aborted after a short grace.
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(grace.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    /// <inheritdoc />
    void IDisposable.Dispose()
    {
        // The MQTT server disposes its adapters; the sockets are closed by DisposeAsync.
    }

    private async Task ServeTcpAsync(ConnectionContext connection)
    {
        var certificate = connection.Features.Get<ITlsConnectionFeature>()?.ClientCertificate;
        await using var stream = new DuplexPipeStream(connection.Transport);
        await ServeAsync(stream, connection.LocalEndPoint, connection.RemoteEndPoint, certificate, connection.Features.Get<PresentedCertificates>(), fragment: true)
            .ConfigureAwait(false);
    }

    private async Task ServeWebSocketAsync(HttpContext context)
    {
        using var webSocket = await WebSocketUpgrade.AcceptAsync(context, SubProtocol).ConfigureAwait(false);
        if (webSocket is null)
        {
            return;
        }

        await using var stream = WebSocketStream.Create(webSocket, WebSocketMessageType.Binary, ownsWebSocket: false);
        var connection = context.Connection;
        await ServeAsync(stream, new IPEndPoint(connection.LocalIpAddress ?? IPAddress.Loopback, connection.LocalPort),
            new IPEndPoint(connection.RemoteIpAddress ?? IPAddress.Loopback, connection.RemotePort), connection.ClientCertificate,
            context.Features.Get<PresentedCertificates>(), fragment: false).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs one MQTT session over the stream until either side closes it. A packet may be written in pieces over TCP
    /// (<paramref name="fragment"/>); over WebSockets each packet is one message.
    /// </summary>
    private async Task ServeAsync(Stream stream, EndPoint? local, EndPoint? remote, X509Certificate2? certificate, PresentedCertificates? presented, bool fragment)
    {
        if (ClientHandler is not { } handler || _serverOptions is not { } options)
        {
            return;
        }

        if (certificate is not null && presented is not null)
        {
            _presented.AddOrUpdate(certificate, presented);
        }

        // Packets are capped before MQTTnet reads their length: 4 KB until CONNACK, then the 96 KB body limit plus the topic.
        await using var limited = new MqttPacketLimitStream(stream, DpsEmulatorOptions.MaxMqttPacketBytesBeforeAuthentication, DpsEmulatorOptions.MaxMqttPacketBytes);
        var channel = new MqttTcpChannel(limited, local, remote, certificate);
        var formatter = new MqttPacketFormatterAdapter(new MqttBufferWriter(options.WriterBufferSize, options.WriterBufferSizeMax));
        using var adapter = new MqttChannelAdapter(channel, formatter, _mqttLogger) { AllowPacketFragmentation = fragment };
        await handler(adapter).ConfigureAwait(false);
    }
}

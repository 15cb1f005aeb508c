using System.Net;
using System.Net.WebSockets;
using System.Security.Cryptography.X509Certificates;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.WebSockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using Provisioning.Emulator.Certificates;
using Provisioning.Emulator.Mqtt;

using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Amqp;

/// <summary>
/// The sockets of the DPS AMQP endpoint, on Kestrel: AMQP over TLS (<c>amqps://host:port</c>) and AMQP over secure
/// WebSockets (<c>wss://host:port/$iothub/websocket</c> or <c>/</c>, subprotocol <c>AMQPWSB10</c>). Each connection's
/// stream is handed on with its TLS client certificate and the intermediates sent beside it, so X.509 works on both.
/// </summary>
/// <remarks>dps-protocol.md §6: CS opens the WebSocket with no path, C with <c>/$iothub/websocket</c>; both are served.</remarks>
internal sealed class DpsAmqpListener : IAsyncDisposable
{
    /// <summary>The WebSocket path of the C SDK.</summary>
    public const string WebSocketPath = WebSocketUpgrade.Path;

    /// <summary>The AMQP WebSocket binding's subprotocol.</summary>
    public const string SubProtocol = "AMQPWSB10";

    private readonly WebApplication _app;
    private readonly Func<AcceptedAmqpStream, Task> _serve;
    private ListenOptions? _tcp;
    private ListenOptions? _webSocket;

    private DpsAmqpListener(X509Certificate2 serverCertificate, int? tcpPort, int? webSocketPort, ILoggerFactory? loggerFactory, Func<AcceptedAmqpStream, Task> serve)
    {
        _serve = serve;
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
                    listen.UseDeviceTls(serverCertificate);
                    listen.Run(ServeTcpAsync);
                });
            }

            if (webSocketPort is { } webSocket)
            {
                kestrel.Listen(IPAddress.Loopback, webSocket, listen =>
                {
                    _webSocket = listen;
                    listen.UseDeviceTls(serverCertificate);
                });
            }
        });
        _app = builder.Build();
        _app.UseWebSockets();
        _app.Run(ServeWebSocketAsync);
    }

    /// <summary>The TCP port, once started; null when AMQP over TCP is off.</summary>
    public int? TcpPort => _tcp?.IPEndPoint?.Port;

    /// <summary>The WebSocket port, once started; null when WebSockets are off.</summary>
    public int? WebSocketPort => _webSocket?.IPEndPoint?.Port;

    /// <summary>Opens the sockets; each accepted connection runs <paramref name="serve"/> until it ends.</summary>
    public static async Task<DpsAmqpListener> StartAsync(X509Certificate2 serverCertificate, int? tcpPort, int? webSocketPort, ILoggerFactory? loggerFactory,
        Func<AcceptedAmqpStream, Task> serve, CancellationToken cancellationToken)
    {
        var listener = new DpsAmqpListener(serverCertificate, tcpPort, webSocketPort, loggerFactory, serve);
        await listener._app.StartAsync(cancellationToken).ConfigureAwait(false);
        return listener;
    }

    /// <summary>Closes the sockets; connections still open are aborted after a short grace.</summary>
    public async ValueTask DisposeAsync()
    {
        using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(grace.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task ServeTcpAsync(ConnectionContext connection)
    {
        var certificate = connection.Features.Get<ITlsConnectionFeature>()?.ClientCertificate;
        await using var stream = new DuplexPipeStream(connection.Transport);
        await _serve(new AcceptedAmqpStream(stream, connection.LocalEndPoint?.ToString() ?? "", connection.RemoteEndPoint?.ToString() ?? "", certificate,
            connection.Features.Get<PresentedCertificates>()?.Intermediates ?? [], connection.ConnectionClosed)).ConfigureAwait(false);
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
        await _serve(new AcceptedAmqpStream(stream, $"{connection.LocalIpAddress}:{connection.LocalPort}", $"{connection.RemoteIpAddress}:{connection.RemotePort}",
            connection.ClientCertificate, context.Features.Get<PresentedCertificates>()?.Intermediates ?? [], context.RequestAborted)).ConfigureAwait(false);
    }
}

/// <summary>One accepted device connection: its stream, addresses, TLS client certificate and intermediates, and its end.</summary>
internal sealed record AcceptedAmqpStream(
    Stream Stream, string Local, string Remote, X509Certificate2? ClientCertificate, IReadOnlyList<byte[]> Intermediates, CancellationToken Closed);

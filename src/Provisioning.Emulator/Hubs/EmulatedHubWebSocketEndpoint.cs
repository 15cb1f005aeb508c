using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Provisioning.Emulator.Hubs;

/// <summary>The WebSocket face of an emulated hub: <c>wss://{hub}:{port}/$iothub/websocket</c> with subprotocol <c>mqtt</c>, relaying
/// each WebSocket to the hub's MQTT TLS endpoint.</summary>
/// <remarks>dps-protocol.md §8 (WebSocket row). The relay terminates the device's TLS, so X.509 devices must use the MQTT endpoint;
/// SAS devices work unchanged.</remarks>
public sealed class EmulatedHubWebSocketEndpoint : IAsyncDisposable
{
    private const string Path = "/$iothub/websocket";
    private readonly WebApplication _app;
    private readonly EmulatedIotHub _hub;
    private readonly byte[] _hubCertificateHash;

    private EmulatedHubWebSocketEndpoint(WebApplication app, EmulatedIotHub hub, X509Certificate2 hubCertificate)
    {
        _app = app;
        _hub = hub;
        _hubCertificateHash = hubCertificate.GetCertHash(HashAlgorithmName.SHA256);
    }

    /// <summary>Where the endpoint listens (<c>host:port</c>).</summary>
    public string Address { get; private set; } = string.Empty;

    /// <summary>Starts the endpoint for <paramref name="hub"/>, serving <paramref name="serverCertificate"/> (the hub's).</summary>
    public static async Task<EmulatedHubWebSocketEndpoint> StartAsync(EmulatedIotHub hub, X509Certificate2 serverCertificate, int port = 0,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(hub);
        ArgumentNullException.ThrowIfNull(serverCertificate);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(hub.EndPoint.Address, port, listen => listen.UseHttps(new Microsoft.AspNetCore.Server.Kestrel.Https.HttpsConnectionAdapterOptions
        {
            ServerCertificate = serverCertificate,
            HandshakeTimeout = hub.TlsHandshakeTimeout,
        })));
        var app = builder.Build();
        var endpoint = new EmulatedHubWebSocketEndpoint(app, hub, serverCertificate);
        app.UseWebSockets();
        app.Map(Path, branch => branch.Run(endpoint.RelayAsync));
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // Kestrel binds port 0 itself, so there is no probe race here; a port that cannot be bound still must not leak the host.
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        endpoint.Address = new Uri(bound).Authority;
        return endpoint;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task RelayAsync(HttpContext context)
    {
        if (!context.WebSockets.IsWebSocketRequest || !context.WebSockets.WebSocketRequestedProtocols.Contains("mqtt"))
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        using var webSocket = await context.WebSockets.AcceptWebSocketAsync("mqtt").ConfigureAwait(false);
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        var aborted = context.RequestAborted;
        await socket.ConnectAsync(_hub.EndPoint, aborted).ConfigureAwait(false);
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false), false, IsTheHubsCertificate);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = _hub.HubHostName }, aborted).ConfigureAwait(false);
        await using var device = WebSocketStream.Create(webSocket, WebSocketMessageType.Binary, ownsWebSocket: false);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var up = device.CopyToAsync(tls, stop.Token);
        var down = tls.CopyToAsync(device, stop.Token);
        await Task.WhenAny(up, down).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(up, down).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or WebSocketException or ObjectDisposedException)
        {
            // One side closed; the other is torn down with it.
        }
    }

    /// <summary>The relay is pinned to the hub's own certificate.</summary>
    private bool IsTheHubsCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        certificate is not null && CryptographicOperations.FixedTimeEquals(certificate.GetCertHash(HashAlgorithmName.SHA256), _hubCertificateHash);
}

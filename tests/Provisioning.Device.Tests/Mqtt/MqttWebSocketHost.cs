using System.Net;
using System.Security.Cryptography.X509Certificates;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

using MQTTnet.Implementations;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>
/// A minimal Kestrel host that serves a <see cref="DpsMqttPeer"/> over <c>wss://localhost:{port}{path}</c> with the
/// <c>mqtt</c> subprotocol (dps-protocol.md §5), recording the path and subprotocols each upgrade asked for.
/// </summary>
/// <remarks>Kestrel and the ASP.NET Core shared framework are already what the emulator uses, so no package is added.</remarks>
public sealed class MqttWebSocketHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private MqttWebSocketHost(WebApplication app)
    {
        _app = app;
    }

    public int Port { get; private set; }

    /// <summary>Each upgrade request: its path and the subprotocols it offered.</summary>
    public List<(string Path, string SubProtocols)> Upgrades { get; } = [];

    public static async Task<MqttWebSocketHost> StartAsync(DpsMqttPeer peer, X509Certificate2 serverCertificate, string path)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen => listen.UseHttps(https =>
        {
            https.ServerCertificate = serverCertificate;
            https.ClientCertificateMode = ClientCertificateMode.AllowCertificate;
            https.ClientCertificateValidation = (certificate, chain, _) =>
            {
                peer.RecordClientCertificate(certificate, chain);
                return true;
            };
        })));
        WebApplication app = builder.Build();
        var host = new MqttWebSocketHost(app);
        app.UseWebSockets();
        app.Run(async context =>
        {
            lock (host.Upgrades)
            {
                host.Upgrades.Add((context.Request.Path.Value ?? string.Empty, string.Join(",", context.WebSockets.WebSocketRequestedProtocols)));
            }

            if (!context.WebSockets.IsWebSocketRequest || context.Request.Path != path || !context.WebSockets.WebSocketRequestedProtocols.Contains("mqtt"))
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }

            using System.Net.WebSockets.WebSocket socket = await context.WebSockets.AcceptWebSocketAsync("mqtt");
            X509Certificate2? clientCertificate = await context.Connection.GetClientCertificateAsync();
            var remote = new IPEndPoint(context.Connection.RemoteIpAddress ?? IPAddress.Loopback, context.Connection.RemotePort);
            using var channel = new MqttWebSocketChannel(socket, remote, isSecureConnection: true, clientCertificate);
            await peer.ServeAsync(channel);
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        host.Port = new Uri(address).Port;
        return host;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

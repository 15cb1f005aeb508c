using System.Globalization;

using Provisioning.Emulator.Amqp;
using Provisioning.Emulator.Device;

namespace Provisioning.Emulator;

/// <summary>DPS over AMQP and AMQP over WebSockets (dps-protocol.md §6), on the same device service, certificate and host name as HTTPS.</summary>
public sealed partial class DpsEmulator
{
    private DpsAmqpEndpoint? _amqp;

    /// <summary>DPS over AMQP (TLS) as <c>host:port</c>, or null when off (<see cref="DpsEmulatorOptions.AmqpPort"/>).</summary>
    public string? AmqpEndpoint { get; private set; }

    /// <summary>DPS over AMQP over WebSockets, <c>wss://host:port/$iothub/websocket</c> (the path <c>/</c> works too), or null when off.</summary>
    public Uri? AmqpWebSocketEndpoint { get; private set; }

    /// <summary>DPS-over-AMQP device connections open now (handshake done, not yet closed); 0 when AMQP is off.</summary>
    public int AmqpConnectionCount => _amqp?.ConnectionCount ?? 0;

    private async Task StartAmqpAsync(DeviceService service, DpsEmulatorOptions options, CancellationToken cancellationToken)
    {
        if (options.AmqpPort is null && options.AmqpWebSocketPort is null)
        {
            return;
        }

        _amqp = await DpsAmqpEndpoint.StartAsync(service, _serverCertificate, options.AmqpPort, options.AmqpWebSocketPort, options.LoggerFactory, cancellationToken)
            .ConfigureAwait(false);
        AmqpEndpoint = _amqp.TcpPort is { } tcp ? options.HostName + ":" + tcp.ToString(CultureInfo.InvariantCulture) : null;
        AmqpWebSocketEndpoint = _amqp.WebSocketPort is { } ws
            ? new Uri($"wss://{options.HostName}:{ws.ToString(CultureInfo.InvariantCulture)}{DpsAmqpListener.WebSocketPath}")
            : null;
    }

    private async Task StopAmqpAsync()
    {
        if (Interlocked.Exchange(ref _amqp, null) is { } amqp)
        {
            await amqp.DisposeAsync().ConfigureAwait(false);
        }
    }
}

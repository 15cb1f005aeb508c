using Provisioning.Device;
using Provisioning.Emulator;

namespace Provisioning.Samples.FirstBoot;

/// <summary>Maps <c>--transport</c> onto the client's options and the emulator's endpoints.</summary>
internal static class DpsTransports
{
    /// <summary>Sets the client's transport and returns the endpoint to give the client: a <c>wss://host:port/path</c> URL
    /// becomes <c>wss://host:port</c> with the path in <see cref="ProvisioningClientOptions.WebSocketPath"/>.</summary>
    public static string Apply(ProvisioningClientOptions options, DpsTransport transport, string endpoint)
    {
        options.Transport = transport switch
        {
            DpsTransport.Mqtt => ProvisioningTransport.Mqtt,
            DpsTransport.MqttWebSockets => ProvisioningTransport.MqttWebSockets,
            DpsTransport.Amqp => ProvisioningTransport.Amqp,
            DpsTransport.AmqpWebSockets => ProvisioningTransport.AmqpWebSockets,
            _ => ProvisioningTransport.Https,
        };
        if (transport is DpsTransport.MqttWebSockets or DpsTransport.AmqpWebSockets && Uri.TryCreate(endpoint, UriKind.Absolute, out var url) && url.AbsolutePath.Length > 1)
        {
            options.WebSocketPath = url.AbsolutePath;
            return url.GetLeftPart(UriPartial.Authority);
        }

        return endpoint;
    }

    /// <summary>Where the client dials the emulator: its HTTPS endpoint, its DPS MQTT endpoint (<c>host:port</c>), or its
    /// WebSocket URL.</summary>
    public static string EmulatorEndpoint(DpsEmulator dps, DpsTransport transport) => transport switch
    {
        DpsTransport.Mqtt => dps.MqttEndpoint ?? throw new InvalidOperationException("the emulator serves no DPS MQTT endpoint"),
        DpsTransport.MqttWebSockets => dps.WebSocketEndpoint?.ToString() ?? throw new InvalidOperationException("the emulator serves no DPS WebSocket endpoint"),
        DpsTransport.Amqp => dps.AmqpEndpoint ?? throw new InvalidOperationException("the emulator serves no DPS AMQP endpoint"),
        DpsTransport.AmqpWebSockets => dps.AmqpWebSocketEndpoint?.ToString() ?? throw new InvalidOperationException("the emulator serves no DPS AMQP WebSocket endpoint"),
        _ => dps.GlobalEndpoint.ToString(),
    };
}

namespace Provisioning.Emulator;

/// <summary>An IoT hub linked to the emulated DPS: a target of allocation.</summary>
public sealed class LinkedHub
{
    /// <summary>Creates a linked hub.</summary>
    /// <param name="hostName">The hub's host name, as returned to devices in <c>assignedHub</c>.</param>
    /// <param name="region">The hub's region, used by the <c>geoLatency</c> allocation policy.</param>
    public LinkedHub(string hostName, string? region = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(hostName);
        HostName = hostName;
        Region = region;
    }

    /// <summary>The hub's host name.</summary>
    public string HostName { get; }

    /// <summary>The hub's region (for <c>geoLatency</c>), or null.</summary>
    public string? Region { get; }

    /// <summary>Where the hub serves MQTT over TLS (<c>ip:port</c>); written to <c>emulator.json</c>. Set before start to choose
    /// the address (port 0: any free one); the emulator sets it to the address it listens on.</summary>
    public string? MqttAddress { get; set; }

    /// <summary>Where the hub serves MQTT over secure WebSockets (<c>host:port</c>, path <c>/$iothub/websocket</c>), when
    /// <see cref="DpsEmulatorOptions.HubWebSockets"/> is on; set by the emulator and written to <c>emulator.json</c>.</summary>
    public string? WebSocketAddress { get; internal set; }
}

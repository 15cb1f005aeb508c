using Provisioning.Device;
using Provisioning.Emulator;

namespace Provisioning.Samples.FirstBoot;

/// <summary>Maps <c>--transport</c> onto the client's options and the emulator's endpoints.</summary>
internal static class DpsTransports
{
    public static void Apply(ProvisioningClientOptions options, DpsTransport transport) =>
        options.Transport = transport == DpsTransport.Mqtt ? ProvisioningTransport.Mqtt : ProvisioningTransport.Https;

    /// <summary>Where the client dials the emulator: its HTTPS endpoint, or its DPS MQTT endpoint (<c>host:port</c>).</summary>
    public static string EmulatorEndpoint(DpsEmulator dps, DpsTransport transport) => transport == DpsTransport.Mqtt
        ? dps.MqttEndpoint ?? throw new InvalidOperationException("the emulator serves no DPS MQTT endpoint")
        : dps.GlobalEndpoint.ToString();
}

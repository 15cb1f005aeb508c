using Provisioning.Device;

namespace Provisioning.Samples.FirstBoot;

/// <summary>Maps <c>--transport</c> onto the client's options.</summary>
internal static class DpsTransports
{
    public static void Apply(ProvisioningClientOptions options, DpsTransport transport) =>
        options.Transport = transport == DpsTransport.Mqtt ? ProvisioningTransport.Mqtt : ProvisioningTransport.Https;

    /// <summary>Where the client dials: the emulator serves DPS over HTTPS only in this build.</summary>
    public static string EmulatorEndpoint(Provisioning.Emulator.DpsEmulator dps, DpsTransport transport) => transport == DpsTransport.Mqtt
        ? throw new NotSupportedException("the embedded emulator does not serve DPS over MQTT in this build yet; use --transport https, or --global-endpoint with a DPS that does")
        : dps.GlobalEndpoint.ToString();
}

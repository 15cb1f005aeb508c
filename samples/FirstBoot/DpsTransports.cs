using Provisioning.Device;

namespace Provisioning.Samples.FirstBoot;

/// <summary>Maps <c>--transport</c> onto the client's options.</summary>
internal static class DpsTransports
{
    public static void Apply(ProvisioningClientOptions options, DpsTransport transport)
    {
        if (transport == DpsTransport.Mqtt)
        {
            throw new NotSupportedException("DPS over MQTT is not in this build of the client yet; use --transport https");
        }

        _ = options;
    }
}

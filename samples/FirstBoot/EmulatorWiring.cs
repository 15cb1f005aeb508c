using Provisioning.Device;
using Provisioning.Device.Hub;
using Provisioning.Emulator;

namespace Provisioning.Samples;

/// <summary>Points the clients at an in-process emulator: its CA trusted explicitly (validation stays on), its hubs dialled
/// on their loopback addresses under their host names. Shared by FirstBoot and FleetSimulator.</summary>
internal static class EmulatorWiring
{
    public static ProvisioningClientOptions TrustEmulator(this ProvisioningClientOptions options, DpsEmulator dps)
    {
        options.TrustedRootCertificates.Add(dps.CertificateAuthority.Certificate);
        return options;
    }

    public static DeviceClientOptions UseEmulatorHubs(this DeviceClientOptions options, DpsEmulator dps)
    {
        options.TrustedRootCertificates.Add(dps.CertificateAuthority.Certificate);
        foreach (var (host, address) in dps.HubAddresses)
        {
            options.HubAddresses[host] = address;
        }

        return options;
    }
}

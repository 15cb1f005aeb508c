using System.Security.Cryptography.X509Certificates;

using Provisioning.Device;
using Provisioning.Device.Hub;
using Provisioning.Emulator;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Samples;

/// <summary>
/// The emulated cloud a sample runs against, in-process: the DPS emulator and one emulated IoT hub per linked hub, all on
/// loopback with TLS from the emulator's CA. Shared by FirstBoot and FleetSimulator.
/// </summary>
internal sealed class LocalCloud : IAsyncDisposable
{
    private readonly Dictionary<string, EmulatedIotHub> _hubs;
    private readonly List<X509Certificate2> _hubCertificates;

    private LocalCloud(DpsEmulator dps, Dictionary<string, EmulatedIotHub> hubs, List<X509Certificate2> hubCertificates)
    {
        Dps = dps;
        _hubs = hubs;
        _hubCertificates = hubCertificates;
    }

    public DpsEmulator Dps { get; }

    /// <summary>The emulator's CA: the one root devices trust for DPS and for the hubs.</summary>
    public X509Certificate2 Root => Dps.CertificateAuthority.Certificate;

    public IEnumerable<string> HubHostNames => _hubs.Keys;

    public static async Task<LocalCloud> StartAsync(DpsEmulatorOptions options, CancellationToken cancellationToken)
    {
        var dps = await DpsEmulator.StartAsync(options, cancellationToken).ConfigureAwait(false);
        var hubs = new Dictionary<string, EmulatedIotHub>(StringComparer.OrdinalIgnoreCase);
        var certificates = new List<X509Certificate2>();
        var cloud = new LocalCloud(dps, hubs, certificates);
        try
        {
            // The emulated hubs read the registry DPS fills, so a device DPS assigned can connect at once.
            foreach (var linked in dps.Hubs)
            {
                var certificate = dps.CertificateAuthority.IssueServerCertificate(linked.HostName);
                certificates.Add(certificate);
                var hub = await EmulatedIotHub.StartAsync(
                    new EmulatedIotHubOptions
                    {
                        HubHostName = linked.HostName,
                        ServerCertificate = certificate,
                        Registry = dps.HubRegistry,
                        LoggerFactory = options.LoggerFactory,
                    },
                    cancellationToken).ConfigureAwait(false);
                hubs.Add(linked.HostName, hub);
                linked.MqttAddress = hub.MqttAddress;
            }

            await dps.UpdateInfoFileAsync(cancellationToken).ConfigureAwait(false);
            return cloud;
        }
        catch
        {
            await cloud.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Trusts the emulator's CA for DPS.</summary>
    public void Configure(ProvisioningClientOptions options) => options.TrustedRootCertificates.Add(Root);

    /// <summary>Trusts the emulator's CA for the hubs and dials each hub's loopback address under its host name.</summary>
    public void Configure(DeviceClientOptions options)
    {
        options.TrustedRoots.Add(Root);
        foreach (var (host, hub) in _hubs)
        {
            options.HubAddresses[host] = hub.MqttAddress;
        }
    }

    /// <summary>The hub's own record of what a device sent, or null for a hub this cloud does not run.</summary>
    public EmulatedIotHub? FindHub(string hostName) => _hubs.GetValueOrDefault(hostName);

    public async ValueTask DisposeAsync()
    {
        foreach (var hub in _hubs.Values)
        {
            await hub.DisposeAsync().ConfigureAwait(false);
        }

        await Dps.DisposeAsync().ConfigureAwait(false);
        foreach (var certificate in _hubCertificates)
        {
            certificate.Dispose();
        }
    }
}

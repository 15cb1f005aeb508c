using System.Net;
using System.Security.Cryptography.X509Certificates;

using Provisioning.Emulator.Hubs;

namespace Provisioning.Emulator;

/// <summary>The linked hubs served in-process: one <see cref="EmulatedIotHub"/> per <see cref="LinkedHub"/>.</summary>
public sealed partial class DpsEmulator
{
    private readonly List<EmulatedIotHub> _iotHubs = [];
    private readonly List<X509Certificate2> _hubCertificates = [];
    private readonly List<EmulatedHubWebSocketEndpoint> _hubWebSockets = [];

    /// <summary>The emulated IoT hubs, in the order of <see cref="Hubs"/>: their service side reads telemetry, sends
    /// cloud-to-device messages, updates twins, invokes direct methods and disables devices.</summary>
    public IReadOnlyList<EmulatedIotHub> IotHubs => _iotHubs;

    /// <summary>The emulated hub with this host name (e.g. a registration's <c>assignedHub</c>).</summary>
    /// <exception cref="ArgumentException">No linked hub has that host name.</exception>
    public EmulatedIotHub GetHub(string hostName)
    {
        ArgumentException.ThrowIfNullOrEmpty(hostName);
        return _iotHubs.Find(h => string.Equals(h.HubHostName, hostName, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"No linked hub is named '{hostName}'.", nameof(hostName));
    }

    /// <summary>Where each hub's MQTT endpoint listens, by hub host name: what a device client maps each host name to
    /// (the TLS name stays the hub host name, which the hub's certificate carries).</summary>
    public IReadOnlyDictionary<string, string> HubAddresses =>
        _iotHubs.ToDictionary(h => h.HubHostName, h => h.MqttAddress, StringComparer.OrdinalIgnoreCase);

    /// <summary>Where each hub's WebSocket endpoint listens, by hub host name (empty unless
    /// <see cref="DpsEmulatorOptions.HubWebSockets"/>): the map for a client using MQTT over WebSockets.</summary>
    public IReadOnlyDictionary<string, string> HubWebSocketAddresses =>
        Hubs.Where(h => h.WebSocketAddress is not null).ToDictionary(h => h.HostName, h => h.WebSocketAddress!, StringComparer.OrdinalIgnoreCase);

    /// <summary>Starts one MQTT-over-TLS hub per linked hub, authenticating against the registry DPS fills, with a
    /// certificate from the emulator's CA that names the hub host name.</summary>
    /// <remarks>Issue 6, dps-protocol.md §8. A hub whose <see cref="LinkedHub.MqttAddress"/> is preset (<c>ip:port</c>) listens
    /// there. The caller stops the hubs again on failure.</remarks>
    private async Task StartHubsAsync(DpsEmulatorOptions options, CancellationToken cancellationToken)
    {
        foreach (var linked in Hubs)
        {
            // A preset address is where to listen (a host keeps its hubs' ports stable); otherwise loopback on a free port.
            var listen = new IPEndPoint(IPAddress.Loopback, 0);
            if (linked.MqttAddress is { } preset && !IPEndPoint.TryParse(preset, out listen))
            {
                throw new ArgumentException($"The MQTT address '{preset}' of hub '{linked.HostName}' is not an IP address and port.", nameof(options));
            }

            var certificate = CertificateAuthority.IssueServerCertificate(linked.HostName, "localhost", "127.0.0.1");
            _hubCertificates.Add(certificate);
            var hub = await EmulatedIotHub.StartAsync(new EmulatedIotHubOptions
            {
                HubHostName = linked.HostName,
                ServerCertificate = certificate,
                Registry = _store,
                BindAddress = listen.Address,
                Port = listen.Port,
                TimeProvider = options.TimeProvider,
                ClockSkew = options.ClockSkew,
                TlsHandshakeTimeout = options.TlsHandshakeTimeout,
                LoggerFactory = options.LoggerFactory,
                DeviceCertificateAuthorities = [CertificateAuthority.Certificate],
                CertificateIssuer = csr =>
                {
                    using var issued = CertificateAuthority.IssueClientCertificate(csr, options.IssuedCertificateValidity);
                    return [issued.RawData, CertificateAuthority.Certificate.RawData];
                },
            }, cancellationToken).ConfigureAwait(false);
            _iotHubs.Add(hub);
            linked.MqttAddress = hub.MqttAddress;
            if (options.HubWebSockets)
            {
                var webSocket = await EmulatedHubWebSocketEndpoint.StartAsync(hub, certificate, cancellationToken: cancellationToken).ConfigureAwait(false);
                _hubWebSockets.Add(webSocket);
                linked.WebSocketAddress = webSocket.Address;
            }
        }
    }

    private async Task StopHubsAsync()
    {
        foreach (var webSocket in _hubWebSockets)
        {
            await webSocket.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var hub in _iotHubs)
        {
            await hub.DisposeAsync().ConfigureAwait(false);
        }

        foreach (var certificate in _hubCertificates)
        {
            certificate.Dispose();
        }

        _hubCertificates.Clear();
    }
}

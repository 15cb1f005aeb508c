using System.Diagnostics.Tracing;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Device.Benchmarks;

/// <summary>
/// Where a registration's allocations go (<c>--allocations</c>): the runtime's own <c>GCAllocationTick</c> events (one per ~100 KB
/// allocated, naming the type of the object that crossed the mark), received in this process through an
/// <see cref="EventListener"/> on <c>Microsoft-Windows-DotNETRuntime</c> (GC keyword 0x1, verbose), summed by type; and the
/// bytes of each piece measured alone, one device at a time: the TCP connection with its TLS 1.3 handshake, the client object,
/// and the whole registration.
/// </summary>
internal sealed class AllocationProfile : EventListener
{
    private readonly Dictionary<string, long> _byType = new(StringComparer.Ordinal);
    private long _total;
    private volatile bool _recording;

    public static async Task RunAsync(LoadRunner runner, BenchmarkEmulator emulator, ProvisioningTransport transport, ArraySegment<BenchmarkDevice> devices, int concurrency)
    {
        int third = devices.Count / 3;
        Uri endpoint = new(emulator.GlobalEndpoint);

        // The pieces alone, one at a time, this thread only running them (the delta is the process's).
        double handshake = await PerOperationAsync(third, () => HandshakeAsync(endpoint, emulator.CaCertificate, alpn: false, resume: true));
        double handshakeAlpn = await PerOperationAsync(third, () => HandshakeAsync(endpoint, emulator.CaCertificate, alpn: true, resume: true));
        double handshakeNoResume = await PerOperationAsync(third, () => HandshakeAsync(endpoint, emulator.CaCertificate, alpn: false, resume: false));
        var shared = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        shared.CustomTrustStore.Add(emulator.CaCertificate);
        double handshakeShared = await PerOperationAsync(third, () => HandshakeAsync(endpoint, emulator.CaCertificate, alpn: false, resume: true, shared));
        int next = 0;
        double client = await PerOperationAsync(third, () =>
        {
            new ProvisioningDeviceClient(emulator.EndpointFor(transport), emulator.IdScope, devices[next++].Attestation ?? throw new InvalidOperationException("The allocation profile measures devices whose attestation is made up front (symmetric key)."), emulator.CreateClientOptions(transport)).Dispose();
            return Task.CompletedTask;
        });
        int one = third;
        double registration = await PerOperationAsync(third, () => runner.RegisterOneAsync(devices[one++]));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"""
            Allocated per operation, one device at a time ({third} each):
              TCP connect + TLS 1.3 handshake + close (SslStream, the emulator's CA as the only root): {handshake / 1024:0.0} KB
                the same with ALPN http/1.1: {handshakeAlpn / 1024:0.0} KB; without TLS resumption: {handshakeNoResume / 1024:0.0} KB;
                with one chain policy for all: {handshakeShared / 1024:0.0} KB (its extra store after them: {shared.ExtraStore.Count}, application policies: {shared.ApplicationPolicy.Count})
              ProvisioningDeviceClient built and disposed (options, transport, TLS options): {client / 1024:0.0} KB
              whole registration (client, connect, TLS, PUT, GET, JSON, SAS, result): {registration / 1024:0.0} KB
            """));
        if (transport == ProvisioningTransport.Mqtt)
        {
            // MQTTnet's own share of a registration, no socket or TLS: see MqttLibraryFloor.
            int device = 0;
            double channel = await PerOperationAsync(third, MqttLibraryFloor.ChannelAloneAsync);
            double throughClient = await PerOperationAsync(third, () => MqttLibraryFloor.ThroughClientAsync(device++));
            double adapter = await PerOperationAsync(third, () => MqttLibraryFloor.ThroughAdapterAsync(device++));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"""
                  MQTTnet alone, a registration's packets over an in-memory channel that answers as DPS (no socket, TLS, JSON or SAS; the channel's own {channel / 1024:0.00} KB taken off):
                    through MqttClient (as the DPS transport used it; the hub client still does): {(throughClient - channel) / 1024:0.0} KB
                    through its channel adapter and packet formatter alone, in order (what the DPS transport uses now, without its own receive loop): {(adapter - channel) / 1024:0.0} KB
                """));
        }

        // By type, under load, from the runtime's allocation ticks.
        using var profile = new AllocationProfile();
        profile._recording = true;
        LoadResult load = await runner.RunAsync(devices[(2 * third)..], concurrency);
        profile._recording = false;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Sampled by type under load ({load.Count} registrations, {load.AllocatedBytes / load.Count / 1024.0:0.0} KB each; ~100 KB per sample):"));
        lock (profile._byType)
        {
            foreach ((string type, long bytes) in profile._byType.OrderByDescending(p => p.Value).Take(25))
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  {100.0 * bytes / profile._total,5:0.0}%  {bytes / (double)load.Count / 1024:0.00} KB  {type}"));
            }
        }
    }

    protected override void OnEventSourceCreated(EventSource eventSource)
    {
        if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs eventData)
    {
        if (!_recording || eventData.EventName is null || !eventData.EventName.StartsWith("GCAllocationTick", StringComparison.Ordinal) || eventData.PayloadNames is null)
        {
            return;
        }

        int amountIndex = eventData.PayloadNames.IndexOf("AllocationAmount64");
        int typeIndex = eventData.PayloadNames.IndexOf("TypeName");
        if (amountIndex < 0 || typeIndex < 0)
        {
            return;
        }

        long amount = Convert.ToInt64(eventData.Payload![amountIndex], CultureInfo.InvariantCulture);
        string type = eventData.Payload[typeIndex] as string ?? "?";
        lock (_byType)
        {
            _byType[type] = _byType.GetValueOrDefault(type) + amount;
            _total += amount;
        }
    }

    private static async Task<double> PerOperationAsync(int count, Func<Task> operation)
    {
        for (int i = 0; i < 20; i++)
        {
            await operation();
        }

        long before = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < count - 20; i++)
        {
            await operation();
        }

        return (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)(count - 20);
    }

    private static readonly List<SslApplicationProtocol> Http11 = [SslApplicationProtocol.Http11];

    private static async Task HandshakeAsync(Uri endpoint, X509Certificate2 ca, bool alpn, bool resume, X509ChainPolicy? shared = null)
    {
        using var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync(new DnsEndPoint(endpoint.IdnHost, endpoint.Port));
        await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
        X509ChainPolicy policy = shared ?? new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
        if (shared is null)
        {
            policy.CustomTrustStore.Add(ca);
        }

        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
        {
            TargetHost = endpoint.IdnHost,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateChainPolicy = policy,
            ApplicationProtocols = alpn ? Http11 : null,
            AllowTlsResume = resume,
        });
    }
}

// Telemetry throughput (QoS 1, acknowledged) and memory per idle connection, against an in-process emulated hub over
// loopback TLS. Usage: dotnet run -c Release --project tests/Provisioning.Device.Hub.Benchmarks [messagesPerDevice] [idleConnections]
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Provisioning.Device.Hub;
using Provisioning.Emulator.Hubs;

const string HubName = "bench-hub.azure-devices.net";
var perDevice = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 500;
var idle = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 200;

using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
var caRequest = new CertificateRequest("CN=Bench Root", caKey, HashAlgorithmName.SHA256);
caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
using var root = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
var serverRequest = new CertificateRequest($"CN={HubName}", serverKey, HashAlgorithmName.SHA256);
var san = new SubjectAlternativeNameBuilder();
san.AddDnsName(HubName);
serverRequest.CertificateExtensions.Add(san.Build());
using var issued = serverRequest.Create(root, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1), [7, 7, 7]);
using var withKey = issued.CopyWithPrivateKey(serverKey);
using var serverCertificate = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);

var registry = new InMemoryHubDeviceRegistry();
await using var hub = await EmulatedIotHub.StartAsync(new EmulatedIotHubOptions { HubHostName = HubName, ServerCertificate = serverCertificate, Registry = registry });
var key = RandomNumberGenerator.GetBytes(32);
using var authentication = HubAuthentication.FromSymmetricKey(key);

async Task<DeviceClient> OpenAsync(string deviceId)
{
    await registry.UpsertAsync(new HubDevice(HubName, deviceId, HubCredentialKind.SymmetricKey, key, null, null, true, null));
    var options = new DeviceClientOptions();
    options.HubAddresses[HubName] = hub.MqttAddress;
    options.TrustedRootCertificates.Add(root);
    var client = new DeviceClient(HubName, deviceId, authentication, options);
    await client.OpenAsync();
    return client;
}

// Each device keeps `window` messages in flight and starts the next as soon as one is acknowledged.
static async Task SendAsync(DeviceClient client, int count, int window)
{
    var body = new byte[128];
    var next = 0;
    await Task.WhenAll(Enumerable.Range(0, window).Select(async _ =>
    {
        while (Interlocked.Increment(ref next) <= count)
        {
            await client.SendEventAsync(new HubMessage(body) { ContentType = "application/json" });
        }
    }));
}

async Task RunAsync(string label, int devices, int messagesEach, int window)
{
    var clients = await Task.WhenAll(Enumerable.Range(0, devices).Select(i => OpenAsync($"{label}-{i}")));
    await Task.WhenAll(clients.Select(c => SendAsync(c, 50, window))); // warm-up
    var stopwatch = Stopwatch.StartNew();
    await Task.WhenAll(clients.Select(c => SendAsync(c, messagesEach, window)));
    stopwatch.Stop();
    var total = devices * messagesEach;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{label}: {devices} device(s) x {messagesEach} msgs (window {window}) = {total} acked QoS 1 msgs in {stopwatch.Elapsed.TotalSeconds:F2} s -> {total / stopwatch.Elapsed.TotalSeconds:F0} msg/s"));
    foreach (var client in clients)
    {
        await client.DisposeAsync();
    }
}

Console.WriteLine($"Processors: {Environment.ProcessorCount}; hub and clients in one process over loopback TLS.");
await RunAsync("one-sequential", 1, perDevice * 4, 1);
await RunAsync("one", 1, perDevice * 40, 32);
await RunAsync("hundred", 100, perDevice, 8);

// Memory per idle connection: managed heap growth after opening `idle` connections (client AND the in-process hub's side).
GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
var before = GC.GetTotalMemory(forceFullCollection: true);
var workingBefore = Environment.WorkingSet;
var idleClients = new List<DeviceClient>();
for (var i = 0; i < idle; i++)
{
    idleClients.Add(await OpenAsync($"idle-{i}"));
}

await Task.Delay(500);
GC.Collect(); GC.WaitForPendingFinalizers(); GC.Collect();
var after = GC.GetTotalMemory(forceFullCollection: true);
var workingAfter = Environment.WorkingSet;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"idle: {idle} connections -> managed heap {(after - before) / 1024.0 / idle:F1} KB/connection, working set {(workingAfter - workingBefore) / 1024.0 / idle:F1} KB/connection (client + hub side together)"));
foreach (var client in idleClients)
{
    await client.DisposeAsync();
}

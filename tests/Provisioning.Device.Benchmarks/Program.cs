// Client registration benchmark (not a test): provisions N devices with a given concurrency against the emulator, one
// ProvisioningDeviceClient per device (as on real devices: its own connection pool and TLS handshake), and prints
// registrations/s, latency p50/p95/p99, bytes allocated and CPU time per registration, and (HTTPS) how far one device's time
// to assigned is from the time its HTTP exchanges took (System.Net.Http's spans, or the direct transport's Provisioning.Http
// spans). Without a proxy the client speaks HTTP/1.1 itself; --https-client httpclient runs HTTPS through HttpClient (the
// Provisioning.Device.Https.UseHttpClient AppContext switch), to compare. --transport mqtt / mqttws register over the emulator's DPS
// MQTT endpoint (TLS, or WebSockets), one MQTT connection per registration as the client library does; --transport amqp /
// amqpws over its DPS AMQP endpoint, one AMQP connection (TLS, SASL, session, two links) per registration.
//
//   dotnet run -c Release --project tests/Provisioning.Device.Benchmarks -- \
//       [--devices 1000] [--concurrency 50] [--attestation symmetric|tpm] [--transport https|mqtt|mqttws|amqp|amqpws] [--emulator inproc|process]
//       [--warmup 100] [--single 50] [--pause-ms 0] [--tpm swtpm|software] [--tpms n] [--https-client direct|httpclient]
//       [--allocations]   (HTTPS: where a registration's bytes go, by piece and by type, instead of the load run)
//
// --pause-ms n: each caller waits n ms after each registration, so registrations trickle in (at concurrency c, about
// c / (n / 1000) per second), as they do from Microsoft's device client, which waits 2 s between its PUT and its GET.
//
// Allocations: GC.GetTotalAllocatedBytes(precise) counts every thread of the process. With --emulator inproc (the issue's
// setting: client and emulator in one process) it includes the emulator's share, so it is printed as "process" bytes.
// With --emulator process the emulator host runs in its own process (dotnet exec Provisioning.Emulator.dll, read from
// emulator.json), and the same delta is the client's alone (plus this harness's few small objects per device); the host's
// CPU time is read from its process.
using System.Globalization;

using Provisioning.Device;
using Provisioning.Device.Benchmarks;

var settings = BenchmarkSettings.Parse(args);
if (settings.UseHttpClient)
{
    AppContext.SetSwitch("Provisioning.Device.Https.UseHttpClient", true);
}

Console.WriteLine($"Provisioning.Device benchmark: {settings.Devices} {settings.Attestation} devices, concurrency {settings.Concurrency}, "
    + $"transport {settings.Transport}{(settings.Transport == ProvisioningTransport.Https ? settings.UseHttpClient ? " (HttpClient)" : " (direct)" : "")}, emulator {(settings.EmulatorInProcess ? "in-process" : "in its own process")}, Retry-After 0, "
    + (settings.PauseMs > 0 ? $"{settings.PauseMs} ms pause after each registration, " : "")
    + $"{Environment.ProcessorCount} cores, .NET {Environment.Version}");

await using var emulator = settings.EmulatorInProcess ? await BenchmarkEmulator.StartInProcessAsync() : await BenchmarkEmulator.StartProcessAsync();
int warmupCount = Math.Min(settings.Warmup, settings.Devices);
await using var fleet = await DeviceFleet.CreateAsync(settings.Attestation, settings.Tpm, settings.Tpms, settings.Devices + warmupCount + settings.Single, emulator);
Console.WriteLine($"Prepared {fleet.Count} devices and their enrollments in {fleet.PreparationTime.TotalSeconds:0.0} s"
    + (settings.Attestation == "tpm" ? settings.Tpm == "swtpm" ? $" ({Math.Min(settings.Tpms, fleet.Count)} swtpm processes, shared in turn)." : " (one software TPM each)." : "."));

var runner = new LoadRunner(emulator, settings.Transport);
if (settings.Allocations)
{
    // Where the bytes go, instead of the load run: see AllocationProfile.
    await runner.RunAsync(fleet.Take(0, warmupCount), settings.Concurrency, settings.PauseMs);
    await AllocationProfile.RunAsync(runner, emulator, settings.Transport, fleet.Take(warmupCount, settings.Devices), settings.Concurrency);
    return 0;
}

await runner.RunAsync(fleet.Take(0, warmupCount), settings.Concurrency, settings.PauseMs);

LoadResult load = await runner.RunAsync(fleet.Take(warmupCount, settings.Devices), settings.Concurrency, settings.PauseMs);
string allocationOwner = settings.EmulatorInProcess ? "process (client + emulator)" : "client";
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"""
    Registrations: {load.Count} in {load.Elapsed.TotalSeconds:0.000} s = {load.Count / load.Elapsed.TotalSeconds:0} registrations/s
    Latency: p50 {load.Percentile(0.50):0.0} ms, p95 {load.Percentile(0.95):0.0} ms, p99 {load.Percentile(0.99):0.0} ms, max {load.Percentile(1):0.0} ms
    Allocated by the {allocationOwner}: {load.AllocatedBytes / load.Count / 1024.0:0.0} KB per registration
    CPU per registration: {allocationOwner} {load.Cpu.TotalMilliseconds / load.Count:0.00} ms{(settings.EmulatorInProcess ? "" : $", emulator host {load.EmulatorCpu.TotalMilliseconds / load.Count:0.00} ms")}
    First-chance exceptions per registration: {load.Tpm.Exceptions / (double)load.Count:0.00}{(load.ExceptionTypes.Length == 0 ? "" : $" ({load.ExceptionTypes})")}
    """));
if (settings.Attestation == "tpm")
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"TPM per registration: {load.Tpm.Commands / (double)load.Count:0.0} commands, the TPM's own time {load.Tpm.CommandSeconds * 1000 / load.Count:0.00} ms"));
}

SingleDeviceResult single = await runner.RunSingleAsync(fleet.Take(warmupCount + settings.Devices, settings.Single));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"""
    One device at a time ({single.Count} devices, medians): client CPU {single.CpuMs:0.00} ms per registration (mean), time to assigned {single.TotalMs:0.00} ms{(settings.Transport == ProvisioningTransport.Https && single.Exchanges > 0
        ? $", its {single.Exchanges} HTTP exchanges {single.HttpMs:0.00} ms (TCP + TLS connect included), the rest {single.TotalMs - single.HttpMs:0.00} ms" : "")}
    """));
if (settings.Attestation == "tpm")
{
    // Our TPM stack's time beyond the TPM's: the identity operations' time less the commands' time (write to response).
    double beyond = single.LayerBeyondTpmMs;
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"""
        One device's TPM ({single.TpmCommands} commands): the TPM's own command time {single.TpmCommandMs:0.00} ms, our TPM identity operations {single.TpmLayerMs:0.00} ms: {beyond:0.00} ms beyond the TPM ({100 * beyond / single.TpmCommandMs:0.0}%)
        One device's client CPU {single.CpuMs:0.00} ms = {100 * single.CpuMs / single.TpmCommandMs:0.0}% of the TPM's command time (TLS and HTTP included)
        """));
    if (settings.Transport == ProvisioningTransport.Https)
    {
        // The device side: everything but the HTTP exchanges (the network, TLS and DPS); beyond the TPM's own command time.
        double device = single.TotalMs - single.HttpMs;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"One device's whole device side (time to assigned less its HTTP exchanges) {device:0.00} ms: {single.BeyondTpmMs:0.00} ms beyond the TPM's command time ({100 * single.BeyondTpmMs / single.TpmCommandMs:0.0}%)"));
    }
}

return 0;

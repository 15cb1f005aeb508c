using System.Diagnostics;

namespace Provisioning.Device.Benchmarks;

/// <summary>Registers devices, each with its own client, and measures them.</summary>
internal sealed class LoadRunner(BenchmarkEmulator emulator, ProvisioningTransport transport)
{
    private readonly string _endpoint = emulator.EndpointFor(transport);

    /// <summary>Registers every device with <paramref name="concurrency"/> callers at a time.</summary>
    public async Task<LoadResult> RunAsync(ArraySegment<BenchmarkDevice> devices, int concurrency)
    {
        var latencies = new double[devices.Count];
        int next = -1;
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        TimeSpan cpuBefore = Environment.CpuUsage.TotalTime;
        TimeSpan emulatorCpuBefore = emulator.HostCpuTime;
        long started = Stopwatch.GetTimestamp();
        var workers = new Task[Math.Min(concurrency, devices.Count)];
        for (int w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(async () =>
            {
                for (int i = Interlocked.Increment(ref next); i < devices.Count; i = Interlocked.Increment(ref next))
                {
                    long one = Stopwatch.GetTimestamp();
                    await RegisterOneAsync(devices[i]);
                    latencies[i] = Stopwatch.GetElapsedTime(one).TotalMilliseconds;
                }
            });
        }

        await Task.WhenAll(workers);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        TimeSpan cpu = Environment.CpuUsage.TotalTime - cpuBefore;
        TimeSpan emulatorCpu = emulator.HostCpuTime - emulatorCpuBefore;
        Array.Sort(latencies);
        return new LoadResult(devices.Count, elapsed, latencies, allocated, cpu, emulatorCpu);
    }

    /// <summary>Registers the devices one after the other, timing each one's HTTP exchanges as the HTTP stack reports them.</summary>
    public async Task<SingleDeviceResult> RunSingleAsync(ArraySegment<BenchmarkDevice> devices)
    {
        var totals = new double[devices.Count];
        var http = new double[devices.Count];
        int exchanges = 0;
        using var meter = new HttpExchangeMeter();
        for (int i = 0; i < devices.Count; i++)
        {
            meter.Reset();
            long one = Stopwatch.GetTimestamp();
            await RegisterOneAsync(devices[i]);
            totals[i] = Stopwatch.GetElapsedTime(one).TotalMilliseconds;
            http[i] = meter.TotalMilliseconds;
            exchanges = meter.Count;
        }

        return new SingleDeviceResult(devices.Count, Median(totals), Median(http), exchanges);
    }

    public async Task RegisterOneAsync(BenchmarkDevice device)
    {
        // A device builds its client at boot: the handler, the TLS handshake and the registration are all its cost.
        using var client = new ProvisioningDeviceClient(_endpoint, emulator.IdScope, device.Attestation, emulator.CreateClientOptions(transport));
        DeviceRegistrationResult result = await client.RegisterAsync();
        if (result.Status != ProvisioningRegistrationStatus.Assigned)
        {
            throw new InvalidOperationException($"{result.RegistrationId} ended {result.Status}: {result.ErrorMessage}");
        }
    }

    private static double Median(double[] values)
    {
        Array.Sort(values);
        return values[values.Length / 2];
    }
}

/// <param name="Count">Registrations.</param>
/// <param name="Elapsed">Wall-clock time of the run.</param>
/// <param name="SortedLatencies">Each registration's time to assigned, ascending, in milliseconds.</param>
/// <param name="AllocatedBytes">Bytes allocated by this process.</param>
/// <param name="Cpu">CPU time of this process (user + kernel).</param>
/// <param name="EmulatorCpu">CPU time of the emulator host process; zero when the emulator runs in this process.</param>
internal sealed record LoadResult(int Count, TimeSpan Elapsed, double[] SortedLatencies, long AllocatedBytes, TimeSpan Cpu, TimeSpan EmulatorCpu)
{
    public double Percentile(double p) => SortedLatencies[Math.Min(SortedLatencies.Length - 1, (int)Math.Ceiling(p * SortedLatencies.Length) - 1)];
}

internal sealed record SingleDeviceResult(int Count, double TotalMs, double HttpMs, int Exchanges);

/// <summary>
/// Sums the durations of the HTTP exchanges (<c>System.Net.Http</c>'s request activities: connect, TLS, send, headers and
/// the body read inside them) of the registration in progress.
/// </summary>
internal sealed class HttpExchangeMeter : IDisposable
{
    private readonly ActivityListener _listener;
    private long _ticks;
    private int _count;

    public HttpExchangeMeter()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "System.Net.Http" or "Provisioning.Device",
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                // HTTP exchanges only (HttpClient's, or the direct transport's), not the registration span.
                if (activity.GetTagItem("url.full") is null)
                {
                    return;
                }

                Interlocked.Add(ref _ticks, activity.Duration.Ticks);
                Interlocked.Increment(ref _count);
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public double TotalMilliseconds => TimeSpan.FromTicks(Volatile.Read(ref _ticks)).TotalMilliseconds;

    public int Count => Volatile.Read(ref _count);

    public void Reset()
    {
        Volatile.Write(ref _ticks, 0);
        Volatile.Write(ref _count, 0);
    }

    public void Dispose() => _listener.Dispose();
}

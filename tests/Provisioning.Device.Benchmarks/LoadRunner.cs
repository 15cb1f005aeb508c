using System.Diagnostics;
using System.Diagnostics.Metrics;

using Provisioning.Device.Tpm;

namespace Provisioning.Device.Benchmarks;

/// <summary>Registers devices, each with its own client, and measures them.</summary>
internal sealed class LoadRunner(BenchmarkEmulator emulator, ProvisioningTransport transport)
{
    private readonly string _endpoint = emulator.EndpointFor(transport);

    /// <summary>
    /// Registers every device with <paramref name="concurrency"/> callers at a time; each caller waits <paramref name="pauseMs"/>
    /// after each registration (no connection open), so registrations trickle in as from a client that waits between requests.
    /// </summary>
    public async Task<LoadResult> RunAsync(ArraySegment<BenchmarkDevice> devices, int concurrency, int pauseMs = 0)
    {
        var latencies = new double[devices.Count];
        int next = -1;
        using var tpm = new TpmMeter();
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
                    if (pauseMs > 0)
                    {
                        await Task.Delay(pauseMs);
                    }
                }
            });
        }

        await Task.WhenAll(workers);
        TimeSpan elapsed = Stopwatch.GetElapsedTime(started);
        long allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        TimeSpan cpu = Environment.CpuUsage.TotalTime - cpuBefore;
        TimeSpan emulatorCpu = emulator.HostCpuTime - emulatorCpuBefore;
        Array.Sort(latencies);
        string exceptionTypes = string.Join(", ", tpm.ExceptionTypes.OrderByDescending(p => p.Value)
            .Select(p => $"{p.Key} {p.Value / (double)devices.Count:0.00}"));
        return new LoadResult(devices.Count, elapsed, latencies, allocated, cpu, emulatorCpu, tpm.Read(), exceptionTypes);
    }

    /// <summary>Registers the devices one after the other, timing each one's HTTP exchanges as the HTTP stack reports them.</summary>
    public async Task<SingleDeviceResult> RunSingleAsync(ArraySegment<BenchmarkDevice> devices)
    {
        var totals = new double[devices.Count];
        var http = new double[devices.Count];
        var tpmCommand = new double[devices.Count];
        var tpmLayer = new double[devices.Count];
        var beyond = new double[devices.Count];
        var layerBeyond = new double[devices.Count];
        var tpmCommands = 0L;
        int exchanges = 0;
        using var meter = new HttpExchangeMeter();
        using var tpm = new TpmMeter();
        TimeSpan cpuBefore = Environment.CpuUsage.TotalTime;
        for (int i = 0; i < devices.Count; i++)
        {
            meter.Reset();
            TpmFigures before = tpm.Read();
            long one = Stopwatch.GetTimestamp();
            await RegisterOneAsync(devices[i]);
            totals[i] = Stopwatch.GetElapsedTime(one).TotalMilliseconds;
            http[i] = meter.TotalMilliseconds;
            exchanges = meter.Count;
            TpmFigures after = tpm.Read() - before;
            tpmCommand[i] = after.CommandSeconds * 1000;
            tpmLayer[i] = after.LayerSeconds * 1000;
            beyond[i] = totals[i] - http[i] - tpmCommand[i];
            layerBeyond[i] = tpmLayer[i] - tpmCommand[i];
            tpmCommands = after.Commands;
        }

        double cpuMs = (Environment.CpuUsage.TotalTime - cpuBefore).TotalMilliseconds / devices.Count;
        return new SingleDeviceResult(
            devices.Count, Median(totals), Median(http), exchanges, Median(tpmCommand), Median(tpmLayer), tpmCommands, cpuMs, Median(beyond), Median(layerBeyond));
    }

    public async Task RegisterOneAsync(BenchmarkDevice device)
    {
        if (device.Swtpm is { } swtpm)
        {
            await RegisterOnSwtpmAsync(device, swtpm);
            return;
        }

        // A device builds its client at boot: the handler, the TLS handshake and the registration are all its cost.
        await RegisterAsync(device.Attestation!);
    }

    /// <summary>A device booting on a TPM: it opens its TPM identity (TPM2_Startup, the EK and SRK read back), registers,
    /// and closes it; the swtpm is held for the whole registration.</summary>
    private async Task RegisterOnSwtpmAsync(BenchmarkDevice device, SharedSwtpm swtpm)
    {
        await swtpm.Turn.WaitAsync();
        try
        {
            await using var identity = new TpmIdentity(swtpm.Transport, ownsTransport: false);
            using var attestation = new TpmAttestation(identity, device.RegistrationId);
            await RegisterAsync(attestation);
        }
        finally
        {
            swtpm.Turn.Release();
        }
    }

    private async Task RegisterAsync(ProvisioningAttestation attestation)
    {
        using var client = new ProvisioningDeviceClient(_endpoint, emulator.IdScope, attestation, emulator.CreateClientOptions(transport));
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
/// <param name="Tpm">What the TPM and our TPM layer took over the run (zero without TPM attestation).</param>
/// <param name="ExceptionTypes">First-chance exceptions per registration by type.</param>
internal sealed record LoadResult(int Count, TimeSpan Elapsed, double[] SortedLatencies, long AllocatedBytes, TimeSpan Cpu, TimeSpan EmulatorCpu, TpmFigures Tpm, string ExceptionTypes)
{
    public double Percentile(double p) => SortedLatencies[Math.Min(SortedLatencies.Length - 1, (int)Math.Ceiling(p * SortedLatencies.Length) - 1)];
}

// TpmCommandMs: median time the TPM took over one registration's commands (command written until its response is read).
// TpmLayerMs: median time spent in the TPM identity's operations (our TPM stack and the TPM together). TpmCommands: TPM
// commands of the last registration.
// CpuMs: this process's CPU time per registration (mean), one device at a time. BeyondTpmMs: median over registrations of
// (time to assigned - HTTP exchanges - the TPM's command time); LayerBeyondTpmMs: median of (TPM identity operations - the
// TPM's command time). Medians of per-registration differences, steadier than differences of medians.
internal sealed record SingleDeviceResult(
    int Count, double TotalMs, double HttpMs, int Exchanges, double TpmCommandMs, double TpmLayerMs, long TpmCommands, double CpuMs, double BeyondTpmMs, double LayerBeyondTpmMs);

/// <summary>Sums over a span of time: the TPM's own command time and command count (the transports' counters,
/// <see cref="TpmTelemetry.TransportTimeInstrument"/>), the time of our TPM identity operations (the outermost activities of
/// <see cref="TpmTelemetry.ActivitySourceName"/>), and first-chance exceptions.</summary>
internal readonly record struct TpmFigures(double CommandSeconds, long Commands, double LayerSeconds, long Exceptions)
{
    public static TpmFigures operator -(TpmFigures a, TpmFigures b) =>
        new(a.CommandSeconds - b.CommandSeconds, a.Commands - b.Commands, a.LayerSeconds - b.LayerSeconds, a.Exceptions - b.Exceptions);
}

/// <summary>Reads <see cref="TpmFigures"/>: <see cref="Read"/> gives totals since creation.</summary>
internal sealed class TpmMeter : IDisposable
{
    private readonly MeterListener _meters = new();
    private readonly ActivityListener _activities;
    private double _commandSeconds;
    private long _commands;
    private long _layerTicks;
    private long _exceptions;
    private readonly double _commandSecondsAtStart;
    private readonly long _commandsAtStart;

    public TpmMeter()
    {
        _meters.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == TpmTelemetry.MeterName
                && instrument.Name is TpmTelemetry.TransportTimeInstrument or TpmTelemetry.TransportExchangesInstrument)
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _meters.SetMeasurementEventCallback<double>((_, value, _, _) => _commandSeconds = value);
        _meters.SetMeasurementEventCallback<long>((_, value, _, _) => _commands = value);
        _meters.Start();
        _meters.RecordObservableInstruments();
        _commandSecondsAtStart = _commandSeconds;
        _commandsAtStart = _commands;
        _activities = new ActivityListener
        {
            ShouldListenTo = source => source.Name == TpmTelemetry.ActivitySourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (activity.Parent?.Source.Name != TpmTelemetry.ActivitySourceName)
                {
                    Interlocked.Add(ref _layerTicks, activity.Duration.Ticks);
                }
            },
        };
        ActivitySource.AddActivityListener(_activities);
        AppDomain.CurrentDomain.FirstChanceException += OnFirstChanceException;
    }

    public TpmFigures Read()
    {
        _meters.RecordObservableInstruments();
        return new TpmFigures(
            _commandSeconds - _commandSecondsAtStart,
            _commands - _commandsAtStart,
            TimeSpan.FromTicks(Volatile.Read(ref _layerTicks)).TotalSeconds,
            Volatile.Read(ref _exceptions));
    }

    public void Dispose()
    {
        AppDomain.CurrentDomain.FirstChanceException -= OnFirstChanceException;
        _activities.Dispose();
        _meters.Dispose();
    }

    /// <summary>First-chance exceptions by type, to see which layer throws on the happy path.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<string, long> ExceptionTypes { get; } = new(StringComparer.Ordinal);

    private void OnFirstChanceException(object? sender, System.Runtime.ExceptionServices.FirstChanceExceptionEventArgs e)
    {
        Interlocked.Increment(ref _exceptions);
        ExceptionTypes.AddOrUpdate(e.Exception.GetType().Name, 1, static (_, n) => n + 1);
    }
}

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

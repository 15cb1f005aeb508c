using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Provisioning.Device.Tpm;

/// <summary>The TPM layer's instruments (<see cref="TpmTelemetry"/>).</summary>
internal static class TpmMetrics
{
    private static readonly Meter Meter = new(TpmTelemetry.MeterName, typeof(TpmMetrics).Assembly.GetName().Version?.ToString());

    private static readonly Histogram<double> CommandDuration = Meter.CreateHistogram<double>(
        TpmTelemetry.CommandDurationInstrument, "s", "Round trip of one TPM command through its transport.");

    private static long s_transportTicks;
    private static long s_transportExchanges;

    private static readonly ObservableCounter<double> TransportTime = Meter.CreateObservableCounter(
        TpmTelemetry.TransportTimeInstrument,
        static () => Stopwatch.GetElapsedTime(0, Volatile.Read(ref s_transportTicks)).TotalSeconds,
        "s",
        "Time the TPM took over every command of a stream transport: command written until the complete response is read.");

    private static readonly ObservableCounter<long> TransportExchanges = Meter.CreateObservableCounter(
        TpmTelemetry.TransportExchangesInstrument,
        static () => Volatile.Read(ref s_transportExchanges),
        "{command}",
        "Commands exchanged by stream transports.");

    public static bool Enabled => CommandDuration.Enabled;

    /// <summary>Whether a listener wants the transport's time: then the transport takes two timestamps per command.</summary>
    public static bool TransportEnabled => TransportTime.Enabled || TransportExchanges.Enabled;

    /// <summary>Adds one exchange of <paramref name="elapsedTimestampTicks"/> (<see cref="Stopwatch"/> ticks).</summary>
    public static void RecordExchange(long elapsedTimestampTicks)
    {
        Interlocked.Add(ref s_transportTicks, elapsedTimestampTicks);
        Interlocked.Increment(ref s_transportExchanges);
    }

    public static void RecordCommand(TpmCommandCode code, string result, TimeSpan elapsed)
    {
        if (CommandDuration.Enabled)
        {
            CommandDuration.Record(elapsed.TotalSeconds, new TagList { { TpmTelemetry.CommandTag, code.ToString() }, { TpmTelemetry.ResultTag, result } });
        }
    }
}

using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Provisioning.Device.Tpm;

/// <summary>The TPM layer's instruments (<see cref="TpmTelemetry"/>).</summary>
internal static class TpmMetrics
{
    private static readonly Meter Meter = new(TpmTelemetry.MeterName, typeof(TpmMetrics).Assembly.GetName().Version?.ToString());

    private static readonly Histogram<double> CommandDuration = Meter.CreateHistogram<double>(
        TpmTelemetry.CommandDurationInstrument, "s", "Round trip of one TPM command through its transport.");

    public static bool Enabled => CommandDuration.Enabled;

    public static void RecordCommand(TpmCommandCode code, string result, TimeSpan elapsed)
    {
        if (CommandDuration.Enabled)
        {
            CommandDuration.Record(elapsed.TotalSeconds, new TagList { { TpmTelemetry.CommandTag, code.ToString() }, { TpmTelemetry.ResultTag, result } });
        }
    }
}

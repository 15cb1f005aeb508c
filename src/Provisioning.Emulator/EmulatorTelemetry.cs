using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Provisioning.Emulator;

/// <summary>
/// The names under which the emulator publishes traces and metrics, for OpenTelemetry (<c>AddSource</c>, <c>AddMeter</c>) or a
/// <see cref="MeterListener"/>. Nothing is recorded unless something listens.
/// </summary>
public static class EmulatorTelemetry
{
    /// <summary>The <see cref="ActivitySource"/> name: one span per device registration.</summary>
    public const string ActivitySourceName = "Provisioning.Emulator";

    /// <summary>The <see cref="Meter"/> name.</summary>
    public const string MeterName = "Provisioning.Emulator";

    /// <summary>Counter of registrations the emulated DPS decided, tagged by <see cref="StatusTag"/> (<c>assigned</c>,
    /// <c>disabled</c>, <c>failed</c>) and <see cref="AttestationTag"/> (<c>tpm</c>, <c>symmetricKey</c>, <c>x509</c>).</summary>
    public const string RegistrationsInstrument = "emulator.dps.registrations";

    /// <summary>Counter of DPS error answers (throttling, refusals, injected faults, malformed requests), tagged by
    /// <see cref="ErrorCodeTag"/> (the DPS <c>errorCode</c>, e.g. 429001).</summary>
    public const string ErrorsInstrument = "emulator.dps.errors";

    /// <summary>The registration status tag.</summary>
    public const string StatusTag = "dps.status";

    /// <summary>The attestation tag.</summary>
    public const string AttestationTag = "dps.attestation";

    /// <summary>The DPS error code tag.</summary>
    public const string ErrorCodeTag = "dps.error_code";
}

/// <summary>The emulator's instruments.</summary>
internal static class EmulatorMetrics
{
    private static readonly Meter Meter = new(EmulatorTelemetry.MeterName, typeof(EmulatorMetrics).Assembly.GetName().Version?.ToString());

    private static readonly Counter<long> Registrations = Meter.CreateCounter<long>(
        EmulatorTelemetry.RegistrationsInstrument, "{registration}", "Registrations decided by the emulated DPS.");

    private static readonly Counter<long> Errors = Meter.CreateCounter<long>(
        EmulatorTelemetry.ErrorsInstrument, "{error}", "DPS error answers of the emulated DPS.");

    public static void Registered(string? status, string attestation)
    {
        if (Registrations.Enabled)
        {
            Registrations.Add(1, new TagList { { EmulatorTelemetry.StatusTag, status }, { EmulatorTelemetry.AttestationTag, attestation } });
        }
    }

    public static void Error(int errorCode)
    {
        if (Errors.Enabled)
        {
            Errors.Add(1, new KeyValuePair<string, object?>(EmulatorTelemetry.ErrorCodeTag, errorCode));
        }
    }
}

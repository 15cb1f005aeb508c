using System.Diagnostics.Metrics;

namespace Provisioning.Device.Tpm;

/// <summary>
/// The names under which the TPM layer publishes traces and metrics, for OpenTelemetry (<c>AddSource</c>, <c>AddMeter</c>) or a
/// <see cref="MeterListener"/>. Nothing is recorded unless something listens.
/// </summary>
public static class TpmTelemetry
{
    /// <summary>The <see cref="System.Diagnostics.ActivitySource"/> name: key creation, activation, signing.</summary>
    public const string ActivitySourceName = "Provisioning.Device.Tpm";

    /// <summary>The <see cref="Meter"/> name.</summary>
    public const string MeterName = "Provisioning.Device.Tpm";

    /// <summary>Histogram of the time one TPM command took, in seconds, round trip through the transport, tagged by
    /// <see cref="CommandTag"/> and <see cref="ResultTag"/>.</summary>
    public const string CommandDurationInstrument = "tpm.command.duration";

    /// <summary>Counter of the time, in seconds, the TPM itself took, summed over every command of a stream transport (kernel
    /// device, swtpm, simulators) and of the software TPM (its execution): from writing a command to the TPM until its complete response is read. No tags: a
    /// process-wide sum, cheap enough to leave on, to compare with the time the layers above spend around it.</summary>
    public const string TransportTimeInstrument = "tpm.transport.time";

    /// <summary>Counter of the commands <see cref="TransportTimeInstrument"/> covers (one per command written, retries included).</summary>
    public const string TransportExchangesInstrument = "tpm.transport.exchanges";

    /// <summary>The command tag: the <see cref="TpmCommandCode"/> name, e.g. <c>ActivateCredential</c>.</summary>
    public const string CommandTag = "tpm.command";

    /// <summary>The result tag: <c>success</c>, <c>retry</c> (the TPM asked for the command again) or <c>error</c>.</summary>
    public const string ResultTag = "tpm.result";
}

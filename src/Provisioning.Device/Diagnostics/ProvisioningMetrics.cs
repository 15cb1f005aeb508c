using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Provisioning.Device.Diagnostics;

/// <summary>The client's instruments (<see cref="ProvisioningTelemetry"/>); one static meter, cheap when nothing listens.</summary>
internal static class ProvisioningMetrics
{
    private static readonly Meter Meter = new(ProvisioningTelemetry.MeterName, typeof(ProvisioningMetrics).Assembly.GetName().Version?.ToString());

    private static readonly Counter<long> Registrations = Meter.CreateCounter<long>(
        ProvisioningTelemetry.RegistrationsInstrument, "{registration}", "Finished registrations by outcome, attestation and transport.");

    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>(
        ProvisioningTelemetry.RegistrationDurationInstrument, "s", "Time from the first request to the outcome of one registration.");

    private static readonly Counter<long> Retries = Meter.CreateCounter<long>(
        ProvisioningTelemetry.RetriesInstrument, "{retry}", "Requests retried after a transient failure.");

    public static string AttestationName(ProvisioningAttestation attestation) => attestation switch
    {
        TpmAttestation => "tpm",
        SymmetricKeyAttestation => "symmetric_key",
        X509Attestation => "x509",
        _ => "other",
    };

    public static string TransportName(ProvisioningTransport transport) => transport switch
    {
        ProvisioningTransport.Https => "https",
        ProvisioningTransport.Mqtt => "mqtt",
        _ => "mqtt_ws",
    };

    public static void RecordRegistration(string outcome, string attestation, string transport, TimeSpan? duration)
    {
        if (!Registrations.Enabled && !Duration.Enabled)
        {
            return;
        }

        var tags = new TagList
        {
            { ProvisioningTelemetry.OutcomeTag, outcome },
            { ProvisioningTelemetry.AttestationTag, attestation },
            { ProvisioningTelemetry.TransportTag, transport },
        };
        Registrations.Add(1, tags);
        if (duration is { } elapsed)
        {
            Duration.Record(elapsed.TotalSeconds, tags);
        }
    }

    public static void RecordRetry(string attestation, string transport)
    {
        if (Retries.Enabled)
        {
            Retries.Add(1, new KeyValuePair<string, object?>(ProvisioningTelemetry.AttestationTag, attestation), new KeyValuePair<string, object?>(ProvisioningTelemetry.TransportTag, transport));
        }
    }
}

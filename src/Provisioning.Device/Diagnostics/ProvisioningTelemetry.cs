using System.Diagnostics.Metrics;

namespace Provisioning.Device;

/// <summary>
/// The names under which the client publishes traces and metrics, for OpenTelemetry (<c>AddSource</c>, <c>AddMeter</c>) or a
/// <see cref="MeterListener"/>. Nothing is recorded unless something listens.
/// </summary>
/// <remarks>
/// Every instrument carries the tags <see cref="AttestationTag"/> (<c>tpm</c>, <c>symmetric_key</c>, <c>x509</c>) and
/// <see cref="TransportTag"/> (<c>https</c>, <c>mqtt</c>, <c>mqtt_ws</c>); registrations also carry <see cref="OutcomeTag"/>.
/// No tag holds a registration id, key or token.
/// </remarks>
public static class ProvisioningTelemetry
{
    /// <summary>The <see cref="System.Diagnostics.ActivitySource"/> name: one span per registration.</summary>
    public const string ActivitySourceName = "Provisioning.Device";

    /// <summary>The <see cref="Meter"/> name.</summary>
    public const string MeterName = "Provisioning.Device";

    /// <summary>Counter of finished registrations, tagged by <see cref="OutcomeTag"/>: <c>assigned</c>, <c>disabled</c>,
    /// <c>failed</c>, <c>cached</c> (answered by the registration cache), <c>error</c>, <c>timeout</c> or <c>canceled</c>.</summary>
    public const string RegistrationsInstrument = "provisioning.registrations";

    /// <summary>Histogram of the time one registration with the service took, in seconds (cache hits are not recorded).</summary>
    public const string RegistrationDurationInstrument = "provisioning.registration.duration";

    /// <summary>Counter of requests retried after a transient failure (throttling, 5xx, a dropped connection).</summary>
    public const string RetriesInstrument = "provisioning.retries";

    /// <summary>The outcome tag of <see cref="RegistrationsInstrument"/> and <see cref="RegistrationDurationInstrument"/>.</summary>
    public const string OutcomeTag = "provisioning.outcome";

    /// <summary>The attestation tag: <c>tpm</c>, <c>symmetric_key</c>, <c>x509</c> or <c>other</c>.</summary>
    public const string AttestationTag = "provisioning.attestation";

    /// <summary>The transport tag: <c>https</c>, <c>mqtt</c> or <c>mqtt_ws</c>.</summary>
    public const string TransportTag = "provisioning.transport";
}

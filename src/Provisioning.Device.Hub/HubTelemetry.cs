using System.Diagnostics.Metrics;

namespace Provisioning.Device.Hub;

/// <summary>
/// The names under which the hub client publishes traces and metrics, for OpenTelemetry (<c>AddSource</c>, <c>AddMeter</c>)
/// or a <see cref="MeterListener"/>. Nothing is recorded unless something listens. No tag holds a device id or token.
/// </summary>
public static class HubTelemetry
{
    /// <summary>The <see cref="System.Diagnostics.ActivitySource"/> name: connect, send, twin requests and direct methods.</summary>
    public const string ActivitySourceName = "Provisioning.Device.Hub";

    /// <summary>The <see cref="Meter"/> name.</summary>
    public const string MeterName = "Provisioning.Device.Hub";

    /// <summary>Up-down counter of clients per connection state, tagged by <see cref="StateTag"/> (a <see cref="ConnectionState"/>
    /// name in lower case): a client adds one to its new state and removes one from its previous state on every change, so the
    /// sum over <c>connected</c> is the number of clients connected now.</summary>
    public const string ConnectionsInstrument = "iothub.connections";

    /// <summary>Counter of telemetry messages handed to the hub (PUBLISH, QoS 1), including those sent again after a drop.</summary>
    public const string MessagesSentInstrument = "iothub.messages.sent";

    /// <summary>Counter of telemetry messages the hub acknowledged (PUBACK).</summary>
    public const string MessagesAcknowledgedInstrument = "iothub.messages.acknowledged";

    /// <summary>The connection state tag of <see cref="ConnectionsInstrument"/>.</summary>
    public const string StateTag = "iothub.connection.state";
}

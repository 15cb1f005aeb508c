using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Provisioning.Device.Hub;

/// <summary>The client's <see cref="ActivitySource"/> (connect, send, twin requests and direct methods) and instruments
/// (<see cref="HubTelemetry"/>). Quiet unless listened to.</summary>
internal static class HubDiagnostics
{
    public static readonly ActivitySource Source = new(HubTelemetry.ActivitySourceName);

    private static readonly Meter Meter = new(HubTelemetry.MeterName, typeof(HubDiagnostics).Assembly.GetName().Version?.ToString());

    private static readonly UpDownCounter<long> Connections = Meter.CreateUpDownCounter<long>(
        HubTelemetry.ConnectionsInstrument, "{client}", "Clients per connection state.");

    public static readonly Counter<long> MessagesSent = Meter.CreateCounter<long>(
        HubTelemetry.MessagesSentInstrument, "{message}", "Telemetry messages published to the hub.");

    public static readonly Counter<long> MessagesAcknowledged = Meter.CreateCounter<long>(
        HubTelemetry.MessagesAcknowledgedInstrument, "{message}", "Telemetry messages the hub acknowledged.");

    public static void StateChanged(ConnectionState previous, ConnectionState state)
    {
        if (Connections.Enabled && previous != state)
        {
            if (previous != ConnectionState.Created)
            {
                Connections.Add(-1, new KeyValuePair<string, object?>(HubTelemetry.StateTag, StateName(previous)));
            }

            if (state != ConnectionState.Closed)
            {
                Connections.Add(1, new KeyValuePair<string, object?>(HubTelemetry.StateTag, StateName(state)));
            }
        }
    }

    private static string StateName(ConnectionState state) => state switch
    {
        ConnectionState.Created => "created",
        ConnectionState.Connecting => "connecting",
        ConnectionState.Connected => "connected",
        ConnectionState.Disconnected => "disconnected",
        ConnectionState.Refused => "refused",
        _ => "closed",
    };
}

using System.Diagnostics.CodeAnalysis;

namespace Provisioning.Device.Hub;

/// <summary>
/// Feature switches an application sets to leave hub transports it never uses out of a trimmed or native AOT build, e.g.
/// <c>&lt;RuntimeHostConfigurationOption Include="Provisioning.Device.Hub.WebSockets.IsSupported" Value="false" Trim="true" /&gt;</c>
/// drops MQTT over WebSockets (and the HTTP stack it upgrades from); choosing it at run time then fails with
/// <see cref="NotSupportedException"/> naming the switch.
/// </summary>
internal static class HubFeatures
{
    public const string WebSocketsSwitch = "Provisioning.Device.Hub.WebSockets.IsSupported";

    /// <summary>MQTT over WebSockets to the hub (<see cref="HubTransport.MqttWebSocket"/>).</summary>
    [FeatureSwitchDefinition(WebSocketsSwitch)]
    public static bool IsWebSocketsSupported => !AppContext.TryGetSwitch(WebSocketsSwitch, out var on) || on;

    /// <summary>The error for MQTT over WebSockets in a build that left it out.</summary>
    public static NotSupportedException WebSocketsRemoved() => new(
        $"MQTT over WebSockets to the hub was left out of this application when it was built (the feature switch '{WebSocketsSwitch}' " +
        $"is false in its project or runtimeconfig): use {nameof(HubTransport)}.{nameof(HubTransport.Mqtt)}, or remove the " +
        "RuntimeHostConfigurationOption that turns it off.");
}

using System.Diagnostics.CodeAnalysis;

namespace Provisioning.Device;

/// <summary>
/// Feature switches an application sets to leave DPS transports it never uses out of a trimmed or native AOT build: each is on
/// unless the application's project turns it off, e.g.
/// <c>&lt;RuntimeHostConfigurationOption Include="Provisioning.Device.Amqp.IsSupported" Value="false" Trim="true" /&gt;</c>.
/// The trimmer then removes the transport's code (and the libraries only it needs: Microsoft.Azure.Amqp, the HTTP stack,
/// WebSockets); choosing a removed transport at run time fails with <see cref="NotSupportedException"/> naming the switch.
/// </summary>
internal static class ProvisioningFeatures
{
    public const string HttpsSwitch = "Provisioning.Device.Https.IsSupported";
    public const string MqttSwitch = "Provisioning.Device.Mqtt.IsSupported";
    public const string AmqpSwitch = "Provisioning.Device.Amqp.IsSupported";
    public const string WebSocketsSwitch = "Provisioning.Device.WebSockets.IsSupported";
    public const string HttpClientSwitch = "Provisioning.Device.Https.HttpClient.IsSupported";

    /// <summary>DPS over HTTPS (<see cref="ProvisioningTransport.Https"/>).</summary>
    [FeatureSwitchDefinition(HttpsSwitch)]
    public static bool IsHttpsSupported => IsOn(HttpsSwitch);

    /// <summary>DPS over MQTT (<see cref="ProvisioningTransport.Mqtt"/>, and over WebSockets when those are on too).</summary>
    [FeatureSwitchDefinition(MqttSwitch)]
    public static bool IsMqttSupported => IsOn(MqttSwitch);

    /// <summary>DPS over AMQP (<see cref="ProvisioningTransport.Amqp"/>, and over WebSockets when those are on too).</summary>
    [FeatureSwitchDefinition(AmqpSwitch)]
    public static bool IsAmqpSupported => IsOn(AmqpSwitch);

    /// <summary>MQTT and AMQP over WebSockets (<see cref="ProvisioningTransport.MqttWebSockets"/>,
    /// <see cref="ProvisioningTransport.AmqpWebSockets"/>).</summary>
    [FeatureSwitchDefinition(WebSocketsSwitch)]
    public static bool IsWebSocketsSupported => IsOn(WebSocketsSwitch);

    /// <summary>DPS over HTTPS through <see cref="System.Net.Http.HttpClient"/> and <see cref="System.Net.Http.SocketsHttpHandler"/>,
    /// which the client uses only with a proxy (or the <c>Provisioning.Device.Https.UseHttpClient</c> switch); off, HTTPS goes
    /// through the direct transport only, and the trimmer drops the handler, its pool and decompression.</summary>
    [FeatureSwitchDefinition(HttpClientSwitch)]
    public static bool IsHttpClientSupported => IsOn(HttpClientSwitch);

    /// <summary>The error for a transport the application's build left out.</summary>
    public static NotSupportedException Removed(ProvisioningTransport transport, string switchName) => new(
        $"DPS over {transport} was left out of this application when it was built (the feature switch '{switchName}' is false " +
        "in its project or runtimeconfig): choose another transport, or remove the RuntimeHostConfigurationOption that turns it off.");

    // Read on each use (a few nanoseconds next to a connection); a trimmed build replaces the property with its constant.
    private static bool IsOn(string name) => !AppContext.TryGetSwitch(name, out var on) || on;
}

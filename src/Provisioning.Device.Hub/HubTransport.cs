namespace Provisioning.Device.Hub;

/// <summary>How the MQTT connection reaches the hub.</summary>
public enum HubTransport
{
    /// <summary>MQTT 3.1.1 over TLS, port 8883.</summary>
    Mqtt,

    /// <summary>MQTT 3.1.1 over a secure WebSocket, <c>wss://{hub}:443/$iothub/websocket</c>, optionally through a proxy.</summary>
    MqttWebSocket,
}

using System.Buffers;

namespace Provisioning.Device.Transport.Mqtt;

/// <summary>
/// The few MQTT 3.1.1 verbs DPS needs, on one connection: the seam between the DPS logic
/// (<see cref="MqttProvisioningTransport"/>) and the MQTT library, so the logic is tested without sockets.
/// </summary>
/// <remarks>
/// Network and TLS failures are thrown as <see cref="ProvisioningException"/> already classified as transient or not;
/// a refused CONNECT is not an exception but its return code.
/// </remarks>
internal interface IDpsMqttConnection : IDisposable
{
    /// <summary>Whether CONNACK 0 arrived and the connection has not closed since.</summary>
    bool IsConnected { get; }

    /// <summary>Sets the receivers: every PUBLISH received (acknowledged before the call, so that a DISCONNECT the receiver causes follows the PUBACK), and the loss of the connection.</summary>
    void SetHandlers(Action<string, ReadOnlySequence<byte>> messageReceived, Action<Exception?> connectionLost);

    /// <summary>Opens the connection and sends CONNECT (CleanSession, no will, keep-alive 0).</summary>
    /// <returns>The CONNACK return code of MQTT 3.1.1 §3.2.2.3: 0 accepted, 1–5 refused.</returns>
    ValueTask<int> ConnectAsync(string clientId, string userName, string? password, CancellationToken cancellationToken);

    /// <summary>Subscribes at QoS 1.</summary>
    /// <returns>Whether the SUBACK granted the subscription.</returns>
    ValueTask<bool> SubscribeAsync(string topicFilter, CancellationToken cancellationToken);

    /// <summary>Publishes at QoS 1 and waits for the PUBACK.</summary>
    ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken);

    /// <summary>Sends DISCONNECT and closes the connection.</summary>
    ValueTask DisconnectAsync(CancellationToken cancellationToken);
}

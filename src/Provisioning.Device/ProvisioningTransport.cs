namespace Provisioning.Device;

/// <summary>The wire protocol a <see cref="ProvisioningDeviceClient"/> speaks to DPS.</summary>
/// <remarks>
/// Every protocol shares the same registration states, retries, <c>Retry-After</c> handling, errors and logging; only
/// the bytes on the wire differ. TPM attestation works over <see cref="Https"/>, <see cref="Amqp"/> and
/// <see cref="AmqpWebSockets"/>, as with the real service; DPS has no TPM challenge over MQTT (dps-protocol.md §5, §6).
/// </remarks>
public enum ProvisioningTransport
{
    /// <summary>HTTPS on port 443 (dps-protocol.md §1). Supports every attestation.</summary>
    Https,

    /// <summary>MQTT 3.1.1 over TLS on port 8883 (dps-protocol.md §5). Symmetric key and X.509 only.</summary>
    Mqtt,

    /// <summary>
    /// MQTT 3.1.1 over a secure WebSocket on port 443 with the <c>mqtt</c> subprotocol, through
    /// <see cref="ProvisioningClientOptions.Proxy"/> when set (dps-protocol.md §5). Symmetric key and X.509 only.
    /// </summary>
    MqttWebSockets,

    /// <summary>
    /// AMQP 1.0 over TLS on port 5671 (dps-protocol.md §6). Supports every attestation: the TPM challenge travels in the
    /// SASL exchange.
    /// </summary>
    Amqp,

    /// <summary>
    /// AMQP 1.0 over a secure WebSocket on port 443 with the <c>AMQPWSB10</c> subprotocol, through
    /// <see cref="ProvisioningClientOptions.Proxy"/> when set (dps-protocol.md §6). Supports every attestation.
    /// </summary>
    AmqpWebSockets,
}

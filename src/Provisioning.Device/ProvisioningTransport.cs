namespace Provisioning.Device;

/// <summary>The wire protocol a <see cref="ProvisioningDeviceClient"/> speaks to DPS.</summary>
/// <remarks>
/// Every protocol shares the same registration states, retries, <c>Retry-After</c> handling, errors and logging; only
/// the bytes on the wire differ. TPM attestation works over <see cref="Https"/> only (dps-protocol.md §5).
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
}

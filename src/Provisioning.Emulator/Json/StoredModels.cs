using System.Text.Json;

namespace Provisioning.Emulator.Json;

/// <summary>What the emulator remembers about one registration: the state, the way it attested and its last operation.</summary>
internal sealed class RegistrationRecord
{
    public string RegistrationId { get; set; } = "";

    public string? DeviceId { get; set; }

    public string? AssignedHub { get; set; }

    public string Status { get; set; } = "assigned";

    public string? Substatus { get; set; }

    public int? ErrorCode { get; set; }

    public string? ErrorMessage { get; set; }

    public DateTime CreatedDateTimeUtc { get; set; }

    public DateTime LastUpdatedDateTimeUtc { get; set; }

    public string Etag { get; set; } = "";

    public string GenerationId { get; set; } = "";

    public JsonElement? Payload { get; set; }

    /// <summary><c>tpm</c>, <c>x509</c> or <c>symmetricKey</c>.</summary>
    public string AttestationType { get; set; } = "";

    public string? EnrollmentGroupId { get; set; }

    public X509CertificateInfo? CertificateInfo { get; set; }

    public X509CertificateInfo? SigningCertificateInfo { get; set; }

    /// <summary>The base64 activation blob of the hub key (TPM), returned again on status reads.</summary>
    public string? TpmAuthenticationKey { get; set; }

    public string? LastOperationId { get; set; }

    /// <summary>The chain issued for the device's CSR (leaf first, base64 DER), or null.</summary>
    public List<string>? IssuedCertificateChain { get; set; }
}

/// <summary>A hub device as stored (the public <see cref="Hubs.HubDevice"/> record in a serializable shape).</summary>
internal sealed class StoredHubDevice
{
    public string HubHostName { get; set; } = "";

    public string DeviceId { get; set; } = "";

    public string Kind { get; set; } = "";

    public byte[]? PrimaryKey { get; set; }

    public byte[]? SecondaryKey { get; set; }

    public string? Thumbprint { get; set; }

    public bool Enabled { get; set; }

    public string? InitialTwin { get; set; }
}

/// <summary>The <c>emulator.json</c> file the emulator writes on start.</summary>
internal sealed class EmulatorInfoFile
{
    public string? GlobalEndpoint { get; set; }

    public string? IdScope { get; set; }

    public string? ServiceConnectionString { get; set; }

    public string? CaCertificate { get; set; }

    public List<EmulatorInfoHub>? Hubs { get; set; }

    /// <summary>DPS over MQTT: <c>host:port</c> (dps-protocol.md §5).</summary>
    public string? MqttEndpoint { get; set; }

    /// <summary>DPS over MQTT over WebSockets: <c>wss://host:port/$iothub/websocket</c>.</summary>
    public string? WebSocketEndpoint { get; set; }

    /// <summary>The portal's address with its access token, when the portal is on.</summary>
    public string? PortalUrl { get; set; }
    /// <summary>DPS over AMQP: <c>host:port</c> (dps-protocol.md §6).</summary>
    public string? AmqpEndpoint { get; set; }

    /// <summary>DPS over AMQP over WebSockets: <c>wss://host:port/$iothub/websocket</c>.</summary>
    public string? AmqpWebSocketEndpoint { get; set; }
}

/// <summary>One hub in <c>emulator.json</c>.</summary>
internal sealed class EmulatorInfoHub
{
    public string? HostName { get; set; }

    public string? Region { get; set; }

    public string? MqttAddress { get; set; }

    public string? WebSocketAddress { get; set; }
}

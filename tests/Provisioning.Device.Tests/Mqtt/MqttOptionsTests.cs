using Provisioning.Device.Tests.Fakes;
using Provisioning.Device.Transport.Mqtt;

using Provisioning.Device.Transport;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>Choosing MQTT: endpoint forms, default ports (8883, 443), the WebSocket path option and its validation.</summary>
public sealed class MqttOptionsTests
{
    [Theory]
    [InlineData("host only", ProvisioningTransport.Mqtt, "dps.example", "dps.example", 8883, null)]
    [InlineData("host and port", ProvisioningTransport.Mqtt, "localhost:1234", "localhost", 1234, null)]
    [InlineData("mqtts URI with 443 kept", ProvisioningTransport.Mqtt, "mqtts://dps.example:443", "dps.example", 443, null)]
    [InlineData("WebSockets host only", ProvisioningTransport.MqttWebSockets, "dps.example", "dps.example", 443, "wss://dps.example/$iothub/websocket")]
    [InlineData("wss URI with port", ProvisioningTransport.MqttWebSockets, "wss://dps.example:8443", "dps.example", 8443, "wss://dps.example:8443/$iothub/websocket")]
    [InlineData("WebSockets port 8883 kept", ProvisioningTransport.MqttWebSockets, "dps.example:8883", "dps.example", 8883, "wss://dps.example:8883/$iothub/websocket")]
    public void Endpoint_ParsesHostPortAndWebSocketUri(string name, ProvisioningTransport transport, string text, string host, int port, string? webSocketUri)
    {
        _ = name;
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();

        SocketEndpoint endpoint = SocketEndpoint.Create(text, attestation, new ProvisioningClientOptions { Transport = transport });

        Assert.Equal(host, endpoint.Host);
        Assert.Equal(port, endpoint.Port);
        Assert.Equal(webSocketUri, endpoint.WebSocketUri?.AbsoluteUri.Replace("%24", "$", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("https scheme over MQTT", ProvisioningTransport.Mqtt, "https://dps.example")]
    [InlineData("wss scheme over TCP", ProvisioningTransport.Mqtt, "wss://dps.example")]
    [InlineData("mqtts scheme over WebSockets", ProvisioningTransport.MqttWebSockets, "mqtts://dps.example")]
    [InlineData("a path in the endpoint", ProvisioningTransport.MqttWebSockets, "wss://dps.example/$iothub/websocket")]
    [InlineData("a query", ProvisioningTransport.Mqtt, "mqtts://dps.example/?x=1")]
    public void Client_WithAnEndpointUnfitForTheTransport_ThrowsArgumentException(string name, ProvisioningTransport transport, string text)
    {
        _ = name;
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();

        ArgumentException ex = Assert.Throws<ArgumentException>(
            () => new ProvisioningDeviceClient(text, Dps.IdScope, attestation, new ProvisioningClientOptions { Transport = transport }));

        Assert.Equal("globalEndpoint", ex.ParamName);
    }

    [Theory]
    [InlineData("")]
    [InlineData("mqtt")]
    [InlineData("/a?b=1")]
    [InlineData("/a#b")]
    public void Client_WithAnInvalidWebSocketPath_ThrowsArgumentException(string path)
    {
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        var options = new ProvisioningClientOptions { Transport = ProvisioningTransport.MqttWebSockets, WebSocketPath = path };

        ArgumentException ex = Assert.Throws<ArgumentException>(() => new ProvisioningDeviceClient("dps.example", Dps.IdScope, attestation, options));

        Assert.Equal(nameof(ProvisioningClientOptions.WebSocketPath), ex.ParamName);
    }

    [Fact]
    public void Options_ByDefault_UseHttpsAndTheIotHubWebSocketPath()
    {
        var options = new ProvisioningClientOptions();

        Assert.Equal(ProvisioningTransport.Https, options.Transport);
        Assert.Equal("/$iothub/websocket", options.WebSocketPath);
    }
}

namespace Provisioning.Device.Hub.Tests;

/// <summary>
/// <c>Provisioning.Device.Hub.WebSockets.IsSupported</c> off: MQTT over WebSockets refuses when the client is made, naming the
/// switch; MQTT over TLS is untouched. The switch is process-wide, so the class runs alone and puts it back.
/// </summary>
[Collection(nameof(FeatureSwitchTests))]
public sealed class FeatureSwitchTests
{
    private const string Switch = "Provisioning.Device.Hub.WebSockets.IsSupported";

    [Fact]
    public async Task Client_OverWebSocketsSwitchedOff_RefusesNamingTheSwitch_AndMqttStillWorks()
    {
        using var authentication = HubAuthentication.FromSymmetricKey(new byte[32]);
        AppContext.SetSwitch(Switch, false);
        try
        {
            var error = Assert.Throws<NotSupportedException>(() =>
                new DeviceClient("hub.example.net", "device-01", authentication, new DeviceClientOptions { Transport = HubTransport.MqttWebSocket }));
            Assert.Contains(Switch, error.Message, StringComparison.Ordinal);

            await using var mqtt = new DeviceClient("hub.example.net", "device-01", authentication, new DeviceClientOptions { Transport = HubTransport.Mqtt });
            Assert.Equal(ConnectionState.Created, mqtt.State);
        }
        finally
        {
            AppContext.SetSwitch(Switch, true);
        }

        await using var webSocket = new DeviceClient("hub.example.net", "device-01", authentication, new DeviceClientOptions { Transport = HubTransport.MqttWebSocket });
        Assert.Equal(ConnectionState.Created, webSocket.State);
    }
}

[CollectionDefinition(nameof(FeatureSwitchTests), DisableParallelization = true)]
public sealed class FeatureSwitchTestsAlone;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests;

/// <summary>
/// The transports' feature switches (<c>Provisioning.Device.*.IsSupported</c>): off, the transport refuses with an error
/// naming the switch, and the others still work. In a trimmed build the switch is a constant; here it is read from
/// <see cref="AppContext"/>, so the class runs alone and puts every switch back.
/// </summary>
[Collection(nameof(FeatureSwitchTests))]
public sealed class FeatureSwitchTests
{
    public static TheoryData<ProvisioningTransport, string, string> Cases => new()
    {
        { ProvisioningTransport.Https, "dps.example.net", "Provisioning.Device.Https.IsSupported" },
        { ProvisioningTransport.Mqtt, "dps.example.net", "Provisioning.Device.Mqtt.IsSupported" },
        { ProvisioningTransport.Amqp, "dps.example.net", "Provisioning.Device.Amqp.IsSupported" },
        { ProvisioningTransport.MqttWebSockets, "wss://dps.example.net", "Provisioning.Device.WebSockets.IsSupported" },
        { ProvisioningTransport.AmqpWebSockets, "wss://dps.example.net", "Provisioning.Device.WebSockets.IsSupported" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Client_WithTheTransportSwitchedOff_RefusesNamingTheSwitch(ProvisioningTransport transport, string endpoint, string switchName)
    {
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        var options = new ProvisioningClientOptions { Transport = transport };
        AppContext.SetSwitch(switchName, false);
        try
        {
            var error = Assert.Throws<NotSupportedException>(() => new ProvisioningDeviceClient(endpoint, Dps.IdScope, attestation, options));
            Assert.Contains(switchName, error.Message, StringComparison.Ordinal);
            Assert.Contains(transport.ToString(), error.Message, StringComparison.Ordinal);
        }
        finally
        {
            AppContext.SetSwitch(switchName, true);
        }

        using var client = new ProvisioningDeviceClient(endpoint, Dps.IdScope, attestation, new ProvisioningClientOptions { Transport = transport });
        Assert.Equal(Dps.IdScope, client.IdScope);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Client_WithOtherTransportsSwitchedOff_StillMakesItsOwn(ProvisioningTransport transport, string endpoint, string switchName)
    {
        string[] all =
        [
            "Provisioning.Device.Https.IsSupported", "Provisioning.Device.Mqtt.IsSupported", "Provisioning.Device.Amqp.IsSupported",
            "Provisioning.Device.WebSockets.IsSupported",
        ];
        bool webSockets = transport is ProvisioningTransport.MqttWebSockets or ProvisioningTransport.AmqpWebSockets;
        string[] needed = webSockets
            ? [switchName, transport == ProvisioningTransport.MqttWebSockets ? "Provisioning.Device.Mqtt.IsSupported" : "Provisioning.Device.Amqp.IsSupported"]
            : [switchName];
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        foreach (var name in all)
        {
            AppContext.SetSwitch(name, Array.IndexOf(needed, name) >= 0);
        }

        try
        {
            using var client = new ProvisioningDeviceClient(endpoint, Dps.IdScope, attestation, new ProvisioningClientOptions { Transport = transport });
            Assert.Equal(Dps.IdScope, client.IdScope);
        }
        finally
        {
            foreach (var name in all)
            {
                AppContext.SetSwitch(name, true);
            }
        }
    }

    [Fact]
    public void Https_WithHttpClientSwitchedOff_UsesTheDirectTransport_AndRefusesAProxyNamingTheSwitch()
    {
        const string Switch = "Provisioning.Device.Https.HttpClient.IsSupported";
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        AppContext.SetSwitch(Switch, false);
        try
        {
            using var direct = new ProvisioningDeviceClient("localhost:4443", Dps.IdScope, attestation, new ProvisioningClientOptions());
            Assert.True(direct.UsesDirectHttps);

            var proxied = new ProvisioningClientOptions { Proxy = new System.Net.WebProxy("http://127.0.0.1:3128") };
            var error = Assert.Throws<NotSupportedException>(() => new ProvisioningDeviceClient("localhost:4443", Dps.IdScope, attestation, proxied));
            Assert.Contains(Switch, error.Message, StringComparison.Ordinal);
            Assert.Contains("proxy", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            AppContext.SetSwitch(Switch, true);
        }

        var proxiedAgain = new ProvisioningClientOptions { Proxy = new System.Net.WebProxy("http://127.0.0.1:3128") };
        using var viaProxy = new ProvisioningDeviceClient("localhost:4443", Dps.IdScope, attestation, proxiedAgain);
        Assert.False(viaProxy.UsesDirectHttps);
    }
}

[CollectionDefinition(nameof(FeatureSwitchTests), DisableParallelization = true)]
public sealed class FeatureSwitchTestsAlone;

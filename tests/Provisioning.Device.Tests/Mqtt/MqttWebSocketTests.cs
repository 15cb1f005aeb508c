using System.Net;

using MQTTnet.Server;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>
/// MQTT over secure WebSockets (dps-protocol.md §5) against the scripted peer under Kestrel: the URI path, the
/// <c>mqtt</c> subprotocol, the X.509 chain in the handshake, and the proxy option.
/// </summary>
public sealed class MqttWebSocketTests : IClassFixture<MqttPki>
{
    private readonly MqttPki _pki;

    public MqttWebSocketTests(MqttPki pki)
    {
        _pki = pki;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Register_OverWebSockets_UsesTheDefaultPathAndTheMqttSubprotocolAndIsAssigned()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        await using MqttWebSocketHost host = await MqttWebSocketHost.StartAsync(peer, _pki.Value.Server, "/$iothub/websocket");
        peer.Reply(202, Dps.Assigning(), retryAfter: 1).Reply(200, Dps.Assigned());
        var time = new SteppingTimeProvider();
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{host.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.MqttWebSockets, time));

        DeviceRegistrationResult result = await time.RunAsync(client.RegisterAsync(Ct));

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal([("/$iothub/websocket", "mqtt")], host.Upgrades);
        Assert.Equal("device-01", Assert.Single(peer.Connects).ClientId);
        Assert.Equal(2, peer.Publishes.Count);
        Assert.Equal([TimeSpan.FromSeconds(1)], time.Waits);
        Assert.Equal(MqttClientDisconnectType.Clean, await peer.NextDisconnectAsync());
    }

    [Fact]
    public async Task Register_OverWebSocketsWithAnotherPath_UsesThatPath()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        await using MqttWebSocketHost host = await MqttWebSocketHost.StartAsync(peer, _pki.Value.Server, "/");
        peer.Reply(200, Dps.Assigned());
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        ProvisioningClientOptions options = _pki.Options(ProvisioningTransport.MqttWebSockets);
        options.WebSocketPath = "/";
        using var client = new ProvisioningDeviceClient($"wss://localhost:{host.Port}", Dps.IdScope, attestation, options);

        DeviceRegistrationResult result = await client.RegisterAsync(Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal([("/", "mqtt")], host.Upgrades);
    }

    [Fact]
    public async Task Register_OverWebSocketsWithX509_PresentsTheChainInTheHandshake()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        await using MqttWebSocketHost host = await MqttWebSocketHost.StartAsync(peer, _pki.Value.Server, "/$iothub/websocket");
        peer.Reply(200, Dps.Assigned("tls-device"));
        using var attestation = new X509Attestation(_pki.Value.Device, [_pki.Value.PublicIntermediate]);
        using var client = new ProvisioningDeviceClient($"localhost:{host.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.MqttWebSockets));

        DeviceRegistrationResult result = await client.RegisterAsync(Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(["CN=tls-device"], peer.ClientSubjects);
        Assert.Contains("CN=Provisioning Test Intermediate", peer.ClientChainSubjects);
        Assert.Null(Assert.Single(peer.Connects).Password);
    }

    [Fact]
    public async Task Register_OverWebSocketsWithAProxy_TunnelsThroughIt()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        await using MqttWebSocketHost host = await MqttWebSocketHost.StartAsync(peer, _pki.Value.Server, "/$iothub/websocket");
        await using var proxy = new TunnelingProxy();
        peer.Reply(200, Dps.Assigned());
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        ProvisioningClientOptions options = _pki.Options(ProvisioningTransport.MqttWebSockets);
        // A bypass list that would skip localhost must not apply: the test needs the proxy for a loopback host.
        options.Proxy = new WebProxy(proxy.Address) { BypassProxyOnLocal = false };
        using var client = new ProvisioningDeviceClient($"localhost:{host.Port}", Dps.IdScope, attestation, options);

        DeviceRegistrationResult result = await client.RegisterAsync(Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal([$"CONNECT localhost:{host.Port} HTTP/1.1"], proxy.ConnectLines);
    }

    [Fact]
    public async Task Register_WhenTheServerServesNoWebSocketThere_FailsNonTransient()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        await using MqttWebSocketHost host = await MqttWebSocketHost.StartAsync(peer, _pki.Value.Server, "/elsewhere");
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        ProvisioningClientOptions options = _pki.Options(ProvisioningTransport.MqttWebSockets);
        options.RetryPolicy.MaxRetries = 0;
        using var client = new ProvisioningDeviceClient($"localhost:{host.Port}", Dps.IdScope, attestation, options);

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("did not accept an MQTT WebSocket", ex.Message, StringComparison.Ordinal);
        Assert.Empty(peer.Connects);
    }
}

using System.Net;

using MQTTnet.Formatter;
using MQTTnet.Protocol;
using MQTTnet.Server;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>
/// DPS over MQTT 3.1.1 (dps-protocol.md §5) against a scripted peer on a real MQTTnet broker, over loopback TLS with a
/// test CA: what the client sends, how it reads the answers, and that it always says DISCONNECT.
/// </summary>
public sealed class MqttRegistrationTests : IClassFixture<MqttPki>
{
    private const string RegisterTopic = "$dps/registrations/PUT/iotdps-register/?$rid=";
    private readonly MqttPki _pki;

    public MqttRegistrationTests(MqttPki pki)
    {
        _pki = pki;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Register_WithSymmetricKey_ConnectsSubscribesPollsAfterRetryAfterAndIsAssigned()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        peer.Reply(202, Dps.Assigning(), retryAfter: 3).Reply(200, Dps.Assigned());
        var time = new SteppingTimeProvider();
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt, time));

        DeviceRegistrationResult result = await time.RunAsync(client.RegisterAsync(Ct));

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("contoso.azure-devices.net", result.AssignedHub);
        Assert.Equal(MqttClientDisconnectType.Clean, await peer.NextDisconnectAsync());
        Assert.Equal([TimeSpan.FromSeconds(3)], time.Waits);

        DpsMqttPeer.ConnectRecord connect = Assert.Single(peer.Connects);
        Assert.Equal("device-01", connect.ClientId);
        Assert.StartsWith($"{Dps.IdScope}/registrations/device-01/api-version=2019-03-31&ClientVersion=Provisioning.Device%2F", connect.UserName, StringComparison.Ordinal);
        Assert.DoesNotContain(' ', connect.UserName);
        Assert.StartsWith($"SharedAccessSignature sr={Dps.IdScope}%2Fregistrations%2Fdevice-01&sig=", connect.Password, StringComparison.Ordinal);
        Assert.EndsWith("&skn=registration", connect.Password, StringComparison.Ordinal);
        Assert.True(connect.CleanSession);
        Assert.Equal((ushort)0, connect.KeepAlive);
        Assert.Equal(MqttProtocolVersion.V311, connect.Version);
        Assert.Equal([("$dps/registrations/res/#", MqttQualityOfServiceLevel.AtLeastOnce)], peer.Subscriptions);
        Assert.Equal(
            [
                (RegisterTopic + "1", """{"registrationId":"device-01"}""", MqttQualityOfServiceLevel.AtLeastOnce),
                ("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=4.d0a6.op", string.Empty, MqttQualityOfServiceLevel.AtLeastOnce),
            ],
            peer.Publishes);
        Assert.Equal(["$dps/registrations/res/202/?$rid=1&retry-after=3", "$dps/registrations/res/200/?$rid=2"], peer.AcknowledgedTopics);
    }

    [Fact]
    public async Task Register_WithX509AndAnIntermediate_PresentsTheChainAndSendsNoPassword()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        peer.Reply(200, Dps.Assigned("tls-device"));
        using var attestation = new X509Attestation(_pki.Value.Device, [_pki.Value.PublicIntermediate]);
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt));

        DeviceRegistrationResult result = await client.RegisterAsync(Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(MqttClientDisconnectType.Clean, await peer.NextDisconnectAsync());
        Assert.Equal(["CN=tls-device"], peer.ClientSubjects);
        Assert.Contains("CN=Provisioning Test Intermediate", peer.ClientChainSubjects);
        DpsMqttPeer.ConnectRecord connect = Assert.Single(peer.Connects);
        Assert.Equal("tls-device", connect.ClientId);
        Assert.Null(connect.Password);
        Assert.Equal(RegisterTopic + "1", Assert.Single(peer.Publishes).Topic);
    }

    [Fact]
    public async Task Register_WithoutTheRootTrusted_FailsTheHandshakeWithoutRetrying()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        ProvisioningClientOptions options = TestClients.Options();
        options.Transport = ProvisioningTransport.Mqtt;
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, options);

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("TLS", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, peer.TcpConnections);
        Assert.Empty(peer.Connects);
    }

    [Theory]
    [InlineData(429)]
    [InlineData(503)]
    public async Task Register_WhenServiceAnswersTransientStatusWithRetryAfter_WaitsThatLongAndRetriesOnTheSameConnection(int status)
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        peer.Reply(status, Dps.Error(status * 1000 + 1, "Slow down."), retryAfter: 7).Reply(200, Dps.Assigned());
        var time = new SteppingTimeProvider();
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt, time));

        DeviceRegistrationResult result = await time.RunAsync(client.RegisterAsync(Ct));

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal([TimeSpan.FromSeconds(7)], time.Waits);
        Assert.Equal([RegisterTopic + "1", RegisterTopic + "2"], peer.Publishes.Select(p => p.Topic));
        Assert.Single(peer.Connects);
        Assert.Equal(MqttClientDisconnectType.Clean, await peer.NextDisconnectAsync());
    }

    [Fact]
    public async Task Register_WhenTheServiceDropsTheConnectionWhileWaiting_ReconnectsResubscribesAndRetries()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        peer.DropInsteadOfReplying().Reply(200, Dps.Assigned());
        var time = new SteppingTimeProvider();
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt, time));

        DeviceRegistrationResult result = await time.RunAsync(client.RegisterAsync(Ct));

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(2, peer.Connects.Count);
        Assert.Equal(2, peer.Subscriptions.Count);
        Assert.Equal([RegisterTopic + "1", RegisterTopic + "2"], peer.Publishes.Select(p => p.Topic));
        Assert.Equal(MqttClientDisconnectType.NotClean, await peer.NextDisconnectAsync());
        Assert.Equal(MqttClientDisconnectType.Clean, await peer.NextDisconnectAsync());
    }

    [Fact]
    public async Task Register_WhenServiceAnswers503WithoutRetryAfter_BacksOffWithJitter()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        peer.Reply(503, string.Empty).Reply(200, Dps.Assigned());
        var time = new SteppingTimeProvider();
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt, time));

        DeviceRegistrationResult result = await time.RunAsync(client.RegisterAsync(Ct));

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        // Equal jitter of the first retry: (0.5 + 0.5 × 0.5) × 500 ms with the tests' fixed random value.
        Assert.Equal([TimeSpan.FromMilliseconds(375)], time.Waits);
    }

    [Fact]
    public async Task Register_WhenServiceAnswers401_FailsWithTheErrorDetailsAndDisconnects()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        peer.Reply(401, Dps.Error(401002, "Invalid certificate."));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.False(ex.IsTransient);
        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.Equal(401002, ex.ErrorCode);
        Assert.Equal("8ad0-track", ex.TrackingId);
        Assert.Equal(MqttClientDisconnectType.Clean, await peer.NextDisconnectAsync());
    }

    [Fact]
    public async Task Register_WhenCanceledWhileWaitingForTheAnswer_ThrowsCanceledAndDisconnects()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt));
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        Task<DeviceRegistrationResult> registering = client.RegisterAsync(cancel.Token);
        await WaitUntilAsync(() => peer.Publishes.Count == 1);
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => registering);
        Assert.Equal(MqttClientDisconnectType.Clean, await peer.NextDisconnectAsync());
    }

    [Theory]
    [InlineData(MqttConnectReasonCode.UnsupportedProtocolVersion, 1)]
    [InlineData(MqttConnectReasonCode.ClientIdentifierNotValid, 2)]
    [InlineData(MqttConnectReasonCode.BadUserNameOrPassword, 4)]
    [InlineData(MqttConnectReasonCode.NotAuthorized, 5)]
    public async Task Register_WhenConnackRefuses_FailsNonTransientWithTheReturnCode(MqttConnectReasonCode reason, int returnCode)
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        peer.RefuseNextConnect(reason);
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains($"CONNACK return code {returnCode} ", ex.Message, StringComparison.Ordinal);
        Assert.Single(peer.Connects);
        Assert.Empty(peer.Publishes);
    }

    [Fact]
    public async Task Register_WhenConnackSaysServerUnavailable_RetriesTheConnectionAndIsAssigned()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        peer.RefuseNextConnect(MqttConnectReasonCode.ServerUnavailable).Reply(200, Dps.Assigned());
        var time = new SteppingTimeProvider();
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt, time));

        DeviceRegistrationResult result = await time.RunAsync(client.RegisterAsync(Ct));

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(2, peer.Connects.Count);
        Assert.Single(time.Waits);
    }

    [Fact]
    public async Task Register_WhenConnackSaysServerUnavailablePastTheRetries_FailsTransient()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        peer.RefuseNextConnect(MqttConnectReasonCode.ServerUnavailable);
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        ProvisioningClientOptions options = _pki.Options(ProvisioningTransport.Mqtt);
        options.RetryPolicy.MaxRetries = 0;
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, options);

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.True(ex.IsTransient);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ex.StatusCode);
        Assert.Contains("CONNACK return code 3 ", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("no $rid", "$dps/registrations/res/200/?retry-after=1")]
    [InlineData("status not digits", "$dps/registrations/res/2x0/?$rid={rid}")]
    [InlineData("no /? after the status", "$dps/registrations/res/200?$rid={rid}")]
    [InlineData("retry-after not seconds", "$dps/registrations/res/202/?$rid={rid}&retry-after=soon")]
    [InlineData("repeated $rid", "$dps/registrations/res/200/?$rid={rid}&$rid={rid}")]
    [InlineData("no query at all", "$dps/registrations/res/200")]
    [InlineData("status out of range", "$dps/registrations/res/999/?$rid={rid}")]
    public async Task Register_WhenTheResponseTopicIsMalformed_FailsNonTransientSayingSo(string why, string topic)
    {
        _ = why;
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        peer.ReplyRaw(rid => topic.Replace("{rid}", rid, StringComparison.Ordinal), Dps.Assigned());
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("malformed response to the registration: the response topic", ex.Message, StringComparison.Ordinal);
        Assert.Single(peer.Publishes);
        Assert.Equal(MqttClientDisconnectType.Clean, await peer.NextDisconnectAsync());
    }

    [Theory]
    [InlineData("not JSON", "<html>oops</html>")]
    [InlineData("no operationId", """{"status":"assigning"}""")]
    [InlineData("empty", "")]
    public async Task Register_WhenTheResponseBodyIsMalformed_FailsNonTransient(string why, string body)
    {
        _ = why;
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        peer.Reply(202, body);
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("malformed response to the registration", ex.Message, StringComparison.Ordinal);
        Assert.Equal(MqttClientDisconnectType.Clean, await peer.NextDisconnectAsync());
    }

    [Fact]
    public async Task Register_WhenTheAnswerIsOver256KiB_RefusesThePacketNonTransient()
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        peer.Reply(200, new string(' ', 300 * 1024));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("over the 256 KiB limit", ex.Message, StringComparison.Ordinal);
        Assert.Single(peer.Connects);
    }

    [Theory]
    [InlineData(ProvisioningTransport.Mqtt)]
    [InlineData(ProvisioningTransport.MqttWebSockets)]
    public async Task Create_WithTpmOverMqtt_IsRefusedBeforeAnyConnectionSayingHttpsAndAmqpWork(ProvisioningTransport transport)
    {
        await using DpsMqttPeer peer = await DpsMqttPeer.StartAsync(_pki.Value.Server);
        using var attestation = new TpmAttestation(new FakeTpmDevice());

        ArgumentException ex = Assert.Throws<ArgumentException>(
            () => new ProvisioningDeviceClient($"localhost:{peer.Port}", Dps.IdScope, attestation, _pki.Options(transport)));

        Assert.Equal("attestation", ex.ParamName);
        Assert.Contains("TPM attestation is not supported over", ex.Message, StringComparison.Ordinal);
        Assert.Contains("ProvisioningTransport.Https or Amqp, which support TPM", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, peer.TcpConnections);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(10, limit.Token);
        }
    }
}

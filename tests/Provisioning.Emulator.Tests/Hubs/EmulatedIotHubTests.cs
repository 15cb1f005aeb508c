using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Formatter;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Emulator.Tests.Hubs;

/// <summary>The hub seen by a plain MQTTnet client: the CONNACK codes and the topic fences.</summary>
public sealed class EmulatedIotHubTests : IAsyncLifetime
{
    private const string Hub = "emu-hub.azure-devices.net";
    private readonly InMemoryHubDeviceRegistry _registry = new();
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private X509Certificate2 _root = null!;
    private X509Certificate2 _server = null!;
    private EmulatedIotHub _hub = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var ca = new CertificateRequest("CN=Hub Test Root", caKey, HashAlgorithmName.SHA256);
        ca.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        // One clock reading: certificates keep whole seconds, so a later reading could put the leaf's end past the root's.
        var now = DateTimeOffset.UtcNow;
        _root = ca.CreateSelfSigned(now.AddDays(-1), now.AddDays(1));
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={Hub}", serverKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(Hub);
        request.CertificateExtensions.Add(san.Build());
        using var issued = request.Create(_root, now.AddHours(-1), now.AddHours(23), [1, 2, 3, 4]);
        using var withKey = issued.CopyWithPrivateKey(serverKey);
        _server = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        await _registry.UpsertAsync(new HubDevice(Hub, "dev-a", HubCredentialKind.SymmetricKey, _key, null, null, true, null), Ct);
        await _registry.UpsertAsync(new HubDevice(Hub, "dev-b", HubCredentialKind.SymmetricKey, _key, null, null, true, null), Ct);
        await _registry.UpsertAsync(new HubDevice(Hub, "dev-off", HubCredentialKind.SymmetricKey, _key, null, null, false, null), Ct);
        _hub = await EmulatedIotHub.StartAsync(new EmulatedIotHubOptions { HubHostName = Hub, ServerCertificate = _server, Registry = _registry }, Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _hub.DisposeAsync();
        _server.Dispose();
        _root.Dispose();
    }

    private async Task<(IMqttClient Client, MqttClientConnectResult Result)> ConnectAsync(string deviceId, string? password, string? user = null,
        EmulatedIotHub? hub = null)
    {
        hub ??= _hub;
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(hub.EndPoint.Address.ToString(), hub.EndPoint.Port)
            .WithClientId(deviceId)
            .WithCredentials(user ?? $"{Hub}/{deviceId}/?api-version=2020-09-30", password)
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithTlsOptions(o => o
                .UseTls()
                .WithTargetHost(Hub)
                .WithTrustChain([_root])
                .WithRevocationMode(X509RevocationMode.NoCheck))
            .Build();
        var result = await client.ConnectAsync(options, Ct);
        return (client, result);
    }

    private static string Token(string deviceId, byte[] key, TimeSpan lifetime) =>
        HubSasValidatorTests.Token(Hub, deviceId, key, DateTimeOffset.UtcNow + lifetime);

    [Theory]
    [InlineData("Good token", "dev-a", "good", MqttClientConnectResultCode.Success)]
    [InlineData("Expired token", "dev-a", "expired", MqttClientConnectResultCode.NotAuthorized)]
    [InlineData("Forged token", "dev-a", "forged", MqttClientConnectResultCode.NotAuthorized)]
    [InlineData("Another device's token", "dev-a", "audience", MqttClientConnectResultCode.NotAuthorized)]
    [InlineData("Disabled device", "dev-off", "good", MqttClientConnectResultCode.NotAuthorized)]
    [InlineData("Unknown device", "dev-zzz", "good", MqttClientConnectResultCode.NotAuthorized)]
    [InlineData("Not a SAS token", "dev-a", "garbage", MqttClientConnectResultCode.BadUserNameOrPassword)]
    public async Task Connect_AnswersTheRightConnackCode(string name, string deviceId, string token, MqttClientConnectResultCode expected)
    {
        Assert.NotNull(name);
        var password = token switch
        {
            "good" => Token(deviceId, _key, TimeSpan.FromHours(1)),
            "expired" => Token(deviceId, _key, TimeSpan.FromHours(-1)),
            "forged" => Token(deviceId, RandomNumberGenerator.GetBytes(32), TimeSpan.FromHours(1)),
            "audience" => Token("dev-b", _key, TimeSpan.FromHours(1)),
            _ => "not a token",
        };

        var (client, result) = await ConnectAsync(deviceId, password);
        using var _ = client;

        Assert.Equal(expected, result.ResultCode);
    }

    [Fact]
    public async Task Connect_WithAUsernameForAnotherDevice_IsRefused()
    {
        var (client, result) = await ConnectAsync("dev-a", Token("dev-a", _key, TimeSpan.FromHours(1)), $"{Hub}/dev-b/?api-version=2020-09-30");
        using var _ = client;
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, result.ResultCode);
    }

    [Fact]
    public async Task Device_CannotSubscribeToOrPublishOnAnotherDevicesTopics()
    {
        var (client, result) = await ConnectAsync("dev-a", Token("dev-a", _key, TimeSpan.FromHours(1)));
        using var _ = client;
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);

        var subscribed = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("devices/dev-b/messages/devicebound/#").Build(), Ct);
        // MQTT 3.1.1 has a single failure code, 0x80.
        Assert.Equal(MqttClientSubscribeResultCode.UnspecifiedError, subscribed.Items.Single().ResultCode);

        var closed = new TaskCompletionSource();
        client.DisconnectedAsync += _ =>
        {
            closed.TrySetResult();
            return Task.CompletedTask;
        };
        try
        {
            await client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("devices/dev-b/messages/events/")
                .WithPayload("x").WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build(), Ct);
        }
        catch (MQTTnet.Exceptions.MqttCommunicationException)
        {
            // The hub closes the connection instead of acknowledging.
        }

        await closed.Task.WaitAsync(Ct);
        Assert.Empty(_hub.GetTelemetry("dev-b"));
    }

    [Fact]
    public async Task Publish_OverTheSizeLimit_ClosesTheConnectionAndIsNotCaptured()
    {
        var (client, result) = await ConnectAsync("dev-a", Token("dev-a", _key, TimeSpan.FromHours(1)));
        using var _ = client;
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        var closed = WhenClosed(client);

        await PublishIgnoringDropAsync(client, "devices/dev-a/messages/events/", new byte[256 * 1024 + 1]);

        await closed.WaitAsync(Ct);
        Assert.Empty(_hub.GetTelemetry("dev-a"));
    }

    [Fact]
    public async Task Start_WhenTheProbedPortIsTakenBeforeTheBind_RetriesOnAnotherPort()
    {
        // The race made deterministic: the first "free" port handed out is already bound by someone else.
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var takenPort = ((IPEndPoint)taken.LocalEndpoint).Port;
        var picks = new List<int>();
        int Pick(IPAddress address)
        {
            if (picks.Count == 0)
            {
                picks.Add(takenPort);
                return takenPort;
            }

            using var probe = new TcpListener(address, 0);
            probe.Start();
            picks.Add(((IPEndPoint)probe.LocalEndpoint).Port);
            return picks[^1];
        }

        await using var hub = await EmulatedIotHub.StartAsync(
            new EmulatedIotHubOptions { HubHostName = Hub, ServerCertificate = _server, Registry = _registry }, Pick, Ct);

        Assert.Equal(2, picks.Count);
        Assert.Equal(picks[1], hub.EndPoint.Port);
        var (client, result) = await ConnectAsync("dev-a", Token("dev-a", _key, TimeSpan.FromHours(1)), hub: hub);
        using var _ = client;
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
    }

    [Fact]
    public async Task Start_WhenEveryProbedPortIsTaken_GivesUpWithTheSocketError()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var takenPort = ((IPEndPoint)taken.LocalEndpoint).Port;
        var picks = 0;

        var thrown = await Assert.ThrowsAsync<SocketException>(() => EmulatedIotHub.StartAsync(
            new EmulatedIotHubOptions { HubHostName = Hub, ServerCertificate = _server, Registry = _registry }, _ => { picks++; return takenPort; }, Ct));

        Assert.Equal(SocketError.AddressAlreadyInUse, thrown.SocketErrorCode);
        Assert.Equal(EmulatedIotHub.PortAttempts, picks);
    }

    [Fact]
    public async Task Start_OnAPortTheCallerChoseThatIsTaken_FailsWithoutTryingAnother()
    {
        using var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        var takenPort = ((IPEndPoint)taken.LocalEndpoint).Port;

        var thrown = await Assert.ThrowsAsync<SocketException>(() => EmulatedIotHub.StartAsync(
            new EmulatedIotHubOptions { HubHostName = Hub, ServerCertificate = _server, Registry = _registry, Port = takenPort }, Ct));

        Assert.Equal(SocketError.AddressAlreadyInUse, thrown.SocketErrorCode);
    }

    [Fact]
    public async Task Publish_AfterTheTokenExpired_ClosesTheConnection()
    {
        var clock = new ManualClock { Now = DateTimeOffset.UtcNow };
        await using var hub = await EmulatedIotHub.StartAsync(new EmulatedIotHubOptions
        {
            HubHostName = Hub,
            ServerCertificate = _server,
            Registry = _registry,
            TimeProvider = clock,
        }, Ct);
        var (client, result) = await ConnectAsync("dev-a", Token("dev-a", _key, TimeSpan.FromMinutes(5)), hub: hub);
        using var _ = client;
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        await client.PublishAsync(Telemetry("devices/dev-a/messages/events/", [1]), Ct);
        var closed = WhenClosed(client);

        clock.Now += TimeSpan.FromMinutes(7); // past the five-minute token and the default one-minute skew
        await PublishIgnoringDropAsync(client, "devices/dev-a/messages/events/", [2]);

        await closed.WaitAsync(Ct);
        Assert.Single(hub.GetTelemetry("dev-a"));
    }

    private static MqttApplicationMessage Telemetry(string topic, byte[] payload) =>
        new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(payload)
            .WithQualityOfServiceLevel(MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce).Build();

    private static Task WhenClosed(IMqttClient client)
    {
        var closed = new TaskCompletionSource();
        client.DisconnectedAsync += _ =>
        {
            closed.TrySetResult();
            return Task.CompletedTask;
        };
        return closed.Task;
    }

    private static async Task PublishIgnoringDropAsync(IMqttClient client, string topic, byte[] payload)
    {
        try
        {
            await client.PublishAsync(Telemetry(topic, payload), Ct);
        }
        catch (MQTTnet.Exceptions.MqttCommunicationException)
        {
            // The hub closes the connection instead of acknowledging.
        }
    }

    private sealed class ManualClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }
}

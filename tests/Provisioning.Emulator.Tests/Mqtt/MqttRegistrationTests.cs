using System.Text.Json;

using Provisioning.Emulator.Hubs;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Mqtt;

/// <summary>DPS over MQTT (dps-protocol.md §5) end to end over real TLS sockets, TCP and WebSockets, with a plain MQTTnet client.</summary>
public sealed class MqttRegistrationTests
{
    public static TheoryData<MqttWire> Wires => [MqttWire.Tcp, MqttWire.WebSocket, MqttWire.WebSocketNoPath];

    [Theory]
    [MemberData(nameof(Wires))]
    public async Task Register_SymmetricKeyIndividual_EndsAssignedWithTheHttpsBodies(MqttWire wire)
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-sym-1", cancellationToken: TestContext.Current.CancellationToken);
        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-sym-1", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-sym-1"), wire: wire);

        var (accepted, final) = await device.RegisterToEndAsync();

        Assert.Equal("0", accepted.RetryAfter);
        Assert.StartsWith("4.", accepted.Body.GetProperty("operationId").GetString(), StringComparison.Ordinal);
        Assert.Equal(accepted.Body.GetProperty("operationId").GetString(), final.Body.GetProperty("operationId").GetString());
        var state = final.Body.GetProperty("registrationState");
        Assert.Equal("assigned", final.Body.GetProperty("status").GetString());
        Assert.Equal("hub1.localhost", state.GetProperty("assignedHub").GetString());
        Assert.Equal("mq-sym-1", state.GetProperty("deviceId").GetString());
        Assert.Equal("initialAssignment", state.GetProperty("substatus").GetString());
        var hubDevice = await dps.HubRegistry.FindAsync("hub1.localhost", "mq-sym-1", TestContext.Current.CancellationToken);
        Assert.Equal(HubCredentialKind.SymmetricKey, hubDevice!.Kind);
    }

    [Theory]
    [MemberData(nameof(Wires))]
    public async Task Register_SymmetricKeyGroup_EndsAssignedAndNamesTheGroup(MqttWire wire)
    {
        await using var dps = await TestDps.StartAsync();
        var group = await dps.Enrollments.AddSymmetricKeyGroupAsync("mq-fleet", cancellationToken: TestContext.Current.CancellationToken);
        var deviceKey = TestSas.DeriveDeviceKey(group.PrimaryKey, "mq-grp-1");
        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-grp-1", TestSas.ForDevice(deviceKey, dps.IdScope, "mq-grp-1", lowerCaseEncoding: true), wire: wire);

        var (_, final) = await device.RegisterToEndAsync();

        Assert.Equal("mq-fleet", final.Body.GetProperty("registrationState").GetProperty("symmetricKey").GetProperty("enrollmentGroupId").GetString());
    }

    [Theory]
    [MemberData(nameof(Wires))]
    public async Task Register_X509Individual_AuthenticatesByTheTlsClientCertificate(MqttWire wire)
    {
        using var root = TestCertificates.Root("Mqtt Root");
        using var leaf = TestCertificates.Leaf(root, "mq-x509-1");
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddX509Async("mq-x509-1", leaf, cancellationToken: TestContext.Current.CancellationToken);
        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-x509-1", certificate: leaf, wire: wire);

        var (_, final) = await device.RegisterToEndAsync();

        var info = final.Body.GetProperty("registrationState").GetProperty("x509").GetProperty("certificateInfo");
        Assert.Equal(leaf.Thumbprint, info.GetProperty("sha1Thumbprint").GetString());
        var hubDevice = await dps.HubRegistry.FindAsync("hub1.localhost", "mq-x509-1", TestContext.Current.CancellationToken);
        Assert.Equal(HubCredentialKind.X509, hubDevice!.Kind);
    }

    [Theory]
    [MemberData(nameof(Wires))]
    public async Task Register_X509Group_ValidatesTheChainToTheEnrolledSigner(MqttWire wire)
    {
        using var root = TestCertificates.Root("Mqtt Group Root");
        using var intermediate = TestCertificates.Intermediate(root, "Mqtt Group Intermediate");
        using var leaf = TestCertificates.Leaf(intermediate, "mq-x509-2");
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddX509GroupAsync("mq-x509-fleet", intermediate, cancellationToken: TestContext.Current.CancellationToken);
        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-x509-2", certificate: leaf, wire: wire);

        var (_, final) = await device.RegisterToEndAsync();

        var x509 = final.Body.GetProperty("registrationState").GetProperty("x509");
        Assert.Equal("mq-x509-fleet", x509.GetProperty("enrollmentGroupId").GetString());
        Assert.Equal(intermediate.Thumbprint, x509.GetProperty("signingCertificateInfo").GetProperty("sha1Thumbprint").GetString());
    }

    [Theory]
    [InlineData("empty (C# SDK, no payload)", null)]
    [InlineData("payload only (C# SDK)", """{"payload":{"modelId":"dtmi:test:m;1"}}""")]
    [InlineData("registration id and payload (C SDK, AC)", """{"registrationId":"mq-body","payload":{"modelId":"dtmi:test:m;1"}}""")]
    [InlineData("registration id only (C SDK)", """{"registrationId":"mq-body"}""")]
    public async Task Register_AcceptsEachBodyForm_TakingTheIdFromConnect(string form, string? body)
    {
        Assert.NotEmpty(form);
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-body", cancellationToken: TestContext.Current.CancellationToken);
        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-body", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-body"));

        var (_, final) = await device.RegisterToEndAsync(body);

        Assert.Equal("assigned", final.Body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Register_WhenBodyNamesAnotherRegistrationId_Answers400WithTheDpsErrorBody()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-body", cancellationToken: TestContext.Current.CancellationToken);
        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-body", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-body"));

        var answer = await device.RegisterAsync("""{"registrationId":"someone-else"}""");

        AssertError(answer, 400, 400004);
    }

    [Fact]
    public async Task Register_WhenBodyIsNotJson_Answers400001()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-body", cancellationToken: TestContext.Current.CancellationToken);
        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-body", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-body"));

        var answer = await device.RegisterAsync("{not json");

        AssertError(answer, 400, 400001);
    }

    [Fact]
    public async Task Register_PublishedAtQos0_IsAnsweredAtOnce()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-qos0", cancellationToken: TestContext.Current.CancellationToken);
        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-qos0", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-qos0"));

        var answer = await device.RegisterAsync("""{"registrationId":"mq-qos0"}""", MQTTnet.Protocol.MqttQualityOfServiceLevel.AtMostOnce);

        Assert.Equal(202, answer.Status);
    }

    [Fact]
    public async Task OperationStatus_ForAnUnknownOperation_Answers404204()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-op", cancellationToken: TestContext.Current.CancellationToken);
        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-op", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-op"));

        var answer = await device.OperationStatusAsync("4.0000000000000000.00000000-0000-0000-0000-000000000000");

        AssertError(answer, 404, 404204);
    }

    [Fact]
    public async Task OperationStatus_ForAnOperationStartedOverHttps_AnswersTheSameFinalBody()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-mixed", cancellationToken: TestContext.Current.CancellationToken);
        var sas = TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-mixed");
        using var http = TestDps.Client(dps);
        var httpsFinal = await TestDps.RegisterToEndAsync(http, dps, "mq-mixed", sas);
        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-mixed", sas);

        var final = await device.OperationStatusAsync(httpsFinal.GetProperty("operationId").GetString()!);

        Assert.Equal(200, final.Status);
        Assert.Equal(httpsFinal.GetRawText(), final.Body.GetRawText());
    }

    [Fact]
    public async Task Emulator_ListsTheMqttAndWebSocketEndpointsInEmulatorJson()
    {
        await using var dps = await TestDps.StartAsync();

        using var info = JsonDocument.Parse(dps.DescribeJson());

        Assert.Equal(dps.MqttEndpoint, info.RootElement.GetProperty("mqttEndpoint").GetString());
        Assert.Matches(@"^localhost:\d+$", dps.MqttEndpoint);
        Assert.Equal(dps.WebSocketEndpoint!.ToString(), info.RootElement.GetProperty("webSocketEndpoint").GetString());
        Assert.Equal("wss", dps.WebSocketEndpoint.Scheme);
        Assert.Equal("/$iothub/websocket", dps.WebSocketEndpoint.AbsolutePath);
    }

    [Fact]
    public async Task Emulator_WithMqttTurnedOff_ListsNoMqttEndpoint()
    {
        await using var dps = await TestDps.StartAsync(o => (o.MqttPort, o.WebSocketPort) = (null, null));

        using var info = JsonDocument.Parse(dps.DescribeJson());

        Assert.Null(dps.MqttEndpoint);
        Assert.Null(dps.WebSocketEndpoint);
        Assert.False(info.RootElement.TryGetProperty("mqttEndpoint", out var value) && value.ValueKind != JsonValueKind.Null);
    }

    internal static void AssertError(MqttAnswer answer, int status, int errorCode)
    {
        Assert.True(answer.Status == status, $"expected {status}, got {answer.Status}: {answer.Body}");
        Assert.Equal(errorCode, answer.Body.GetProperty("errorCode").GetInt32());
        Assert.False(string.IsNullOrEmpty(answer.Body.GetProperty("trackingId").GetString()));
        Assert.False(string.IsNullOrEmpty(answer.Body.GetProperty("message").GetString()));
        Assert.True(answer.Body.GetProperty("timestampUtc").GetDateTime() > DateTime.UtcNow.AddMinutes(-5));
    }
}

using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Hubs;

/// <summary>A re-registration replaces the device's hub entry; the hub resets the twin only when the reprovision policy resets the
/// device's data (dps-protocol.md §1.6 substatus, issue 4 reprovision policy, issue 6).</summary>
public sealed class HubReprovisionTwinTests
{
    private const string InitialTwin = """{"properties":{"desired":{"interval":30}}}""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ReRegister_WithResetPolicy_TwinIsTheInitialOneAgainWithNewerVersions()
    {
        await using var dps = await TestDps.StartAsync();
        var (register, hub, key) = await EnrollAsync(dps, "twin-reset-01", migrate: false);
        await register();
        var before = await DirtyTheTwinAsync(dps, hub, "twin-reset-01", key);

        var substatus = await register();

        Assert.Equal("deviceDataReset", substatus);
        var twin = await dps.GetHub(hub).GetTwinAsync("twin-reset-01", Ct);
        Assert.Equal(30, Json(twin.DesiredJson).GetProperty("interval").GetInt32());
        Assert.False(Json(twin.DesiredJson).TryGetProperty("mode", out _));
        Assert.False(Json(twin.ReportedJson).TryGetProperty("fw", out _));
        Assert.True(twin.DesiredVersion > before.DesiredVersion, $"desired {twin.DesiredVersion} after {before.DesiredVersion}");
        Assert.True(twin.ReportedVersion > before.ReportedVersion, $"reported {twin.ReportedVersion} after {before.ReportedVersion}");

        // The device sees the same reset twin.
        await using var device = await TwinDevice.ConnectAsync(dps, hub, "twin-reset-01", key, Ct);
        var document = await device.GetTwinAsync(Ct);
        Assert.Equal(30, document.GetProperty("desired").GetProperty("interval").GetInt32());
        Assert.False(document.GetProperty("reported").TryGetProperty("fw", out _));
    }

    [Fact]
    public async Task ReRegister_WithMigrateDataPolicyWithinTheSameHub_TwinIsKept()
    {
        await using var dps = await TestDps.StartAsync();
        var (register, hub, key) = await EnrollAsync(dps, "twin-migrate-01", migrate: true);
        await register();
        var before = await DirtyTheTwinAsync(dps, hub, "twin-migrate-01", key);

        var substatus = await register();

        Assert.Equal("initialAssignment", substatus);
        var twin = await dps.GetHub(hub).GetTwinAsync("twin-migrate-01", Ct);
        Assert.Equal(before, twin);
    }

    [Fact]
    public async Task Reconnect_WithoutReRegistration_TwinIsKept()
    {
        await using var dps = await TestDps.StartAsync();
        var (register, hub, key) = await EnrollAsync(dps, "twin-reconnect-01", migrate: false);
        await register();
        var before = await DirtyTheTwinAsync(dps, hub, "twin-reconnect-01", key);

        await using var device = await TwinDevice.ConnectAsync(dps, hub, "twin-reconnect-01", key, Ct);
        var document = await device.GetTwinAsync(Ct);

        Assert.Equal("on", document.GetProperty("reported").GetProperty("fw").GetString());
        Assert.Equal(before, await dps.GetHub(hub).GetTwinAsync("twin-reconnect-01", Ct));
    }

    /// <summary>An individual symmetric-key enrollment with an initial twin, and a function that registers it to the end and
    /// returns the substatus.</summary>
    private static async Task<(Func<Task<string>> Register, string Hub, byte[] Key)> EnrollAsync(DpsEmulator dps, string registrationId, bool migrate)
    {
        var keys = await dps.Enrollments.AddSymmetricKeyAsync(registrationId, new EnrollmentSettings
        {
            InitialTwinJson = InitialTwin,
            UpdateHubAssignment = true,
            MigrateDeviceData = migrate,
        }, Ct);
        var hub = dps.Hubs.Single().HostName;
        async Task<string> RegisterAsync()
        {
            using var http = TestDps.Client(dps);
            var final = await TestDps.RegisterToEndAsync(http, dps, registrationId, TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, registrationId));
            var state = final.GetProperty("registrationState");
            Assert.Equal(hub, state.GetProperty("assignedHub").GetString());
            return state.GetProperty("substatus").GetString()!;
        }

        return (RegisterAsync, hub, Convert.FromBase64String(keys.PrimaryKey));
    }

    /// <summary>The device reports a property, the back end sets a desired one; returns the twin after both.</summary>
    private static async Task<Emulator.Hubs.HubTwinSnapshot> DirtyTheTwinAsync(DpsEmulator dps, string hubName, string deviceId, byte[] key)
    {
        var hub = dps.GetHub(hubName);
        await using (var device = await TwinDevice.ConnectAsync(dps, hubName, deviceId, key, Ct))
        {
            Assert.Equal("204", await device.PatchReportedAsync("""{"fw":"on"}""", Ct));
        }

        await hub.UpdateDesiredAsync(deviceId, """{"mode":"eco"}""", Ct);
        var twin = await hub.GetTwinAsync(deviceId, Ct);
        Assert.Equal("eco", Json(twin.DesiredJson).GetProperty("mode").GetString());
        Assert.Equal("on", Json(twin.ReportedJson).GetProperty("fw").GetString());
        return twin;
    }

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;

    /// <summary>A device on its hub as a plain MQTTnet client: twin GET and reported patch, answers read from <c>$iothub/twin/res/#</c>.</summary>
    private sealed class TwinDevice : IAsyncDisposable
    {
        private readonly IMqttClient _client;
        private readonly System.Threading.Channels.Channel<MqttApplicationMessage> _answers = System.Threading.Channels.Channel.CreateUnbounded<MqttApplicationMessage>();
        private int _rid;

        private TwinDevice(IMqttClient client)
        {
            _client = client;
            _client.ApplicationMessageReceivedAsync += e =>
            {
                _answers.Writer.TryWrite(e.ApplicationMessage);
                return Task.CompletedTask;
            };
        }

        public static async Task<TwinDevice> ConnectAsync(DpsEmulator dps, string hubName, string deviceId, byte[] key, CancellationToken cancellationToken)
        {
            var hub = dps.GetHub(hubName);
            var client = new MqttClientFactory().CreateMqttClient();
            var device = new TwinDevice(client);
            var result = await client.ConnectAsync(new MqttClientOptionsBuilder()
                .WithTcpServer(hub.EndPoint.Address.ToString(), hub.EndPoint.Port)
                .WithClientId(deviceId)
                .WithCredentials($"{hubName}/{deviceId}/?api-version=2020-09-30",
                    TestSas.Create(key, $"{hubName}/devices/{deviceId}", DateTimeOffset.UtcNow.AddHours(1), keyName: null))
                .WithProtocolVersion(MqttProtocolVersion.V311)
                .WithTlsOptions(o => o.UseTls().WithTargetHost(hubName).WithTrustChain([dps.CertificateAuthority.Certificate]))
                .Build(), cancellationToken);
            Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
            await client.SubscribeAsync("$iothub/twin/res/#", MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken);
            return device;
        }

        /// <summary>Returns the status the hub answered.</summary>
        public async Task<string> PatchReportedAsync(string patch, CancellationToken cancellationToken)
        {
            var answer = await RequestAsync("$iothub/twin/PATCH/properties/reported/", patch, cancellationToken);
            return answer.Topic["$iothub/twin/res/".Length..].Split('/')[0];
        }

        public async Task<JsonElement> GetTwinAsync(CancellationToken cancellationToken)
        {
            var answer = await RequestAsync("$iothub/twin/GET/", string.Empty, cancellationToken);
            Assert.StartsWith("$iothub/twin/res/200/", answer.Topic, StringComparison.Ordinal);
            return Json(answer.ConvertPayloadToString());
        }

        private async Task<MqttApplicationMessage> RequestAsync(string prefix, string body, CancellationToken cancellationToken)
        {
            var rid = (++_rid).ToString(System.Globalization.CultureInfo.InvariantCulture);
            await _client.PublishStringAsync($"{prefix}?$rid={rid}", body, MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: cancellationToken);
            while (true)
            {
                var message = await _answers.Reader.ReadAsync(cancellationToken).AsTask().WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
                if (message.Topic.Split('?', '&').Contains($"$rid={rid}"))
                {
                    return message;
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _client.DisconnectAsync(cancellationToken: CancellationToken.None);
            _client.Dispose();
        }
    }
}

using System.Globalization;
using System.Text.Json;
using System.Threading.Channels;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Hubs;

/// <summary>A device on an emulated hub as a plain MQTTnet 3.1.1 client (not the client library): SAS from the device key, TLS
/// trusting only the emulator CA, every received message in <see cref="ReadAsync"/> order.</summary>
internal sealed class TestHubDevice : IAsyncDisposable
{
    private static readonly TimeSpan Guard = TimeSpan.FromSeconds(30);

    private readonly IMqttClient _client = new MqttClientFactory().CreateMqttClient();
    private readonly Channel<MqttApplicationMessageReceivedEventArgs> _received = Channel.CreateUnbounded<MqttApplicationMessageReceivedEventArgs>();
    private int _rid;

    private TestHubDevice(bool autoAcknowledge)
    {
        _client.ApplicationMessageReceivedAsync += e =>
        {
            e.AutoAcknowledge = autoAcknowledge;
            _received.Writer.TryWrite(e);
            return Task.CompletedTask;
        };
    }

    /// <summary>Connects (asserting CONNACK success) and subscribes to <paramref name="topicFilters"/> at QoS 1; with
    /// <paramref name="autoAcknowledge"/> false, received QoS 1 messages are never acknowledged (no PUBACK).</summary>
    public static async Task<TestHubDevice> ConnectAsync(DpsEmulator dps, string hubName, string deviceId, byte[] key, string[] topicFilters,
        bool autoAcknowledge = true)
    {
        var ct = TestContext.Current.CancellationToken;
        var hub = dps.GetHub(hubName);
        var device = new TestHubDevice(autoAcknowledge);
        var result = await device._client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer(hub.EndPoint.Address.ToString(), hub.EndPoint.Port)
            .WithClientId(deviceId)
            .WithCredentials($"{hubName}/{deviceId}/?api-version=2020-09-30",
                TestSas.Create(key, $"{hubName}/devices/{deviceId}", DateTimeOffset.UtcNow.AddHours(1), keyName: null))
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithTlsOptions(o => o.UseTls().WithTargetHost(hubName).WithTrustChain([dps.CertificateAuthority.Certificate]))
            .Build(), ct);
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        foreach (var filter in topicFilters)
        {
            var subscribed = await device._client.SubscribeAsync(filter, MqttQualityOfServiceLevel.AtLeastOnce, ct);
            Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, subscribed.Items.Single().ResultCode);
        }

        return device;
    }

    /// <summary>The next message the hub sent (a guard of 30 s turns a hang into a failure).</summary>
    public async Task<MqttApplicationMessageReceivedEventArgs> ReadAsync() =>
        await _received.Reader.ReadAsync(TestContext.Current.CancellationToken).AsTask().WaitAsync(Guard, TestContext.Current.CancellationToken);

    /// <summary>Patches the reported properties; returns the status the hub answered.</summary>
    public async Task<string> PatchReportedAsync(string patch)
    {
        var answer = await TwinRequestAsync("$iothub/twin/PATCH/properties/reported/", patch);
        return answer.Topic["$iothub/twin/res/".Length..].Split('/')[0];
    }

    /// <summary>Gets the twin document (<c>{"desired":…,"reported":…}</c>).</summary>
    public async Task<JsonElement> GetTwinAsync()
    {
        var answer = await TwinRequestAsync("$iothub/twin/GET/", string.Empty);
        Assert.StartsWith("$iothub/twin/res/200/", answer.Topic, StringComparison.Ordinal);
        return JsonDocument.Parse(answer.ConvertPayloadToString()).RootElement;
    }

    /// <summary>Needs a subscription to <c>$iothub/twin/res/#</c>.</summary>
    private async Task<MqttApplicationMessage> TwinRequestAsync(string prefix, string body)
    {
        var rid = (++_rid).ToString(CultureInfo.InvariantCulture);
        await _client.PublishStringAsync($"{prefix}?$rid={rid}", body, MqttQualityOfServiceLevel.AtLeastOnce,
            cancellationToken: TestContext.Current.CancellationToken);
        while (true)
        {
            var message = (await ReadAsync()).ApplicationMessage;
            if (message.Topic.Split('?', '&').Contains($"$rid={rid}"))
            {
                return message;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync(cancellationToken: CancellationToken.None);
        }

        _client.Dispose();
    }
}

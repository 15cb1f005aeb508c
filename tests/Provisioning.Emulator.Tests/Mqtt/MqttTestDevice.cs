using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Provisioning.Emulator.Tests.Mqtt;

/// <summary>How a test device reaches the emulator's MQTT endpoint.</summary>
public enum MqttWire
{
    /// <summary>MQTT over TLS.</summary>
    Tcp,

    /// <summary>MQTT over secure WebSockets with the C SDK's path.</summary>
    WebSocket,

    /// <summary>MQTT over secure WebSockets with no path (the C# SDK).</summary>
    WebSocketNoPath,
}

/// <summary>One answer on <c>$dps/registrations/res/…</c>: the topic's status, request id and retry-after, and the JSON body.</summary>
internal sealed record MqttAnswer(string Topic, int Status, string RequestId, string? RetryAfter, JsonElement Body);

/// <summary>
/// A device written in the tests with a plain MQTTnet client (not the library's transport): CONNECT as dps-protocol.md §5
/// says, subscribe to the responses, publish requests and read answers, trusting exactly the emulator's CA.
/// </summary>
internal sealed class MqttTestDevice : IAsyncDisposable
{
    public const string ApiVersion = "2019-03-31";

    private readonly IMqttClient _client;
    private readonly Channel<MqttAnswer> _answers = Channel.CreateUnbounded<MqttAnswer>();
    private int _nextRid;

    private readonly TaskCompletionSource _disconnected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private readonly string _ridPrefix;

    private MqttTestDevice(IMqttClient client, string registrationId)
    {
        _client = client;

        // Request ids unique across devices, so an answer delivered to the wrong device fails the $rid check.
        _ridPrefix = registrationId + ".";
        client.DisconnectedAsync += _ =>
        {
            _disconnected.TrySetResult();
            return Task.CompletedTask;
        };
        client.ApplicationMessageReceivedAsync += e =>
        {
            var topic = e.ApplicationMessage.Topic;
            var text = Encoding.UTF8.GetString(e.ApplicationMessage.Payload);
            using var json = JsonDocument.Parse(text.Length == 0 ? "null" : text);
            var status = int.Parse(topic.AsSpan("$dps/registrations/res/".Length, 3), provider: System.Globalization.CultureInfo.InvariantCulture);
            var query = topic[(topic.IndexOf('?', StringComparison.Ordinal) + 1)..].Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
            _answers.Writer.TryWrite(new MqttAnswer(topic, status, query["$rid"], query.GetValueOrDefault("retry-after"), json.RootElement.Clone()));
            return Task.CompletedTask;
        };
    }

    public bool IsConnected => _client.IsConnected;

    public MqttClientConnectResult? ConnectResult { get; private set; }

    public static string UserName(string idScope, string registrationId, string apiVersion = ApiVersion) =>
        $"{idScope}/registrations/{registrationId}/api-version={apiVersion}&ClientVersion={Uri.EscapeDataString("tests/1.0 (dotnet)")}";

    /// <summary>Connects (CONNACK may refuse: see <see cref="ConnectResult"/>); subscribes when accepted.</summary>
    public static async Task<MqttTestDevice> ConnectAsync(DpsEmulator dps, string registrationId, string? password = null, X509Certificate2? certificate = null,
        MqttWire wire = MqttWire.Tcp, string? userName = null, bool subscribe = true, MqttProtocolVersion version = MqttProtocolVersion.V311)
    {
        var root = X509CertificateLoader.LoadCertificate(dps.CertificateAuthority.Certificate.RawData);
        var builder = new MqttClientOptionsBuilder()
            .WithProtocolVersion(version)
            .WithClientId(registrationId)
            .WithCleanSession(true)
            .WithKeepAlivePeriod(TimeSpan.Zero)
            .WithTimeout(TimeSpan.FromSeconds(30))
            .WithTlsOptions(tls =>
            {
                tls.UseTls().WithTargetHost("localhost")
                    .WithTrustChain([root])
                    .WithCertificateValidationHandler(args =>
                    {
                        if (args.Certificate is null || (args.SslPolicyErrors & ~System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors) != 0)
                        {
                            return false;
                        }

                        using var chain = new X509Chain();
                        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                        chain.ChainPolicy.CustomTrustStore.Add(root);
                        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                        return chain.Build(X509CertificateLoader.LoadCertificate(args.Certificate.GetRawCertData()));
                    });
                if (certificate is not null)
                {
                    tls.WithClientCertificates([certificate]);
                }
            });
        builder = wire == MqttWire.Tcp
            ? builder.WithTcpServer("localhost", int.Parse(dps.MqttEndpoint!.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture))
            : builder.WithWebSocketServer(ws => ws.WithUri(wire == MqttWire.WebSocket
                ? dps.WebSocketEndpoint!.ToString()
                : dps.WebSocketEndpoint!.GetLeftPart(UriPartial.Authority)));
        var name = userName ?? UserName(dps.IdScope, registrationId);
        builder = password is null ? builder.WithCredentials(name) : builder.WithCredentials(name, password);

        var client = new MqttClientFactory().CreateMqttClient();
        var device = new MqttTestDevice(client, registrationId);
        device.ConnectResult = await client.ConnectAsync(builder.Build(), TestContext.Current.CancellationToken);
        if (subscribe && device.ConnectResult.ResultCode == MqttClientConnectResultCode.Success)
        {
            var suback = await client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder()
                .WithTopicFilter("$dps/registrations/res/#", MqttQualityOfServiceLevel.AtLeastOnce).Build(), TestContext.Current.CancellationToken);
            Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS1, suback.Items.Single().ResultCode);
        }

        return device;
    }

    public Task<MqttClientSubscribeResult> SubscribeAsync(string filter) =>
        _client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce).Build(), TestContext.Current.CancellationToken);

    public Task PublishAsync(string topic, string? body, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce) =>
        _client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic(topic).WithPayload(body ?? "").WithQualityOfServiceLevel(qos).Build(), TestContext.Current.CancellationToken);

    /// <summary>Publishes a register request with <paramref name="body"/> (null: empty) and returns its answer.</summary>
    public async Task<MqttAnswer> RegisterAsync(string? body = null, MqttQualityOfServiceLevel qos = MqttQualityOfServiceLevel.AtLeastOnce)
    {
        var rid = NextRid();
        await PublishAsync($"$dps/registrations/PUT/iotdps-register/?$rid={rid}", body, qos);
        return await AnswerAsync(rid);
    }

    public async Task<MqttAnswer> OperationStatusAsync(string operationId)
    {
        var rid = NextRid();
        await PublishAsync($"$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&operationId={Uri.EscapeDataString(operationId)}", null);
        return await AnswerAsync(rid);
    }

    /// <summary>Register, then one status request: the whole flow of §5 (the emulator is started with retry-after 0).</summary>
    public async Task<(MqttAnswer Accepted, MqttAnswer Final)> RegisterToEndAsync(string? body = null)
    {
        var accepted = await RegisterAsync(body);
        Assert.True(accepted.Status == 202, $"register answered {accepted.Status}: {accepted.Body}");
        Assert.Equal("assigning", accepted.Body.GetProperty("status").GetString());
        var final = await OperationStatusAsync(accepted.Body.GetProperty("operationId").GetString()!);
        Assert.True(final.Status == 200, $"status answered {final.Status}: {final.Body}");
        return (accepted, final);
    }

    /// <summary>The next answer; it must answer <paramref name="rid"/>.</summary>
    public async Task<MqttAnswer> AnswerAsync(string rid)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        var answer = await _answers.Reader.ReadAsync(timeout.Token);
        Assert.Equal(rid, answer.RequestId);
        return answer;
    }

    /// <summary>Whether an answer has arrived that no test has read yet.</summary>
    public bool HasUnreadAnswer => _answers.Reader.TryPeek(out _);

    /// <summary>Waits until the server has closed the connection.</summary>
    public async Task WaitDisconnectedAsync()
    {
        await _disconnected.Task.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken);
    }

    public string NextRid() => _ridPrefix + Interlocked.Increment(ref _nextRid).ToString(System.Globalization.CultureInfo.InvariantCulture);

    public async ValueTask DisposeAsync()
    {
        if (_client.IsConnected)
        {
            await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None);
        }

        _client.Dispose();
    }
}

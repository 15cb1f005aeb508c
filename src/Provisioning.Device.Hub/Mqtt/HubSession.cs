using System.Globalization;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Provisioning.Device.Hub.Mqtt;

/// <summary>One MQTT connection to the hub, from CONNECT to close. Operations enter it, and a renewal drains it (waits for the
/// operations in flight to finish) before it is closed, so nothing is lost or sent twice across a token renewal.</summary>
internal sealed class HubSession : IAsyncDisposable
{
    private static readonly MqttClientFactory Factory = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _retired = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _drained = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _inFlight;
    private volatile bool _draining;

    private HubSession(IMqttClient client, DateTimeOffset? tokenExpiresAt)
    {
        Client = client;
        TokenExpiresAt = tokenExpiresAt;
    }

    public IMqttClient Client { get; }

    /// <summary>When the SAS token expires; null for X.509.</summary>
    public DateTimeOffset? TokenExpiresAt { get; }

    /// <summary>Completes when the connection drops or is closed.</summary>
    public Task Closed => _closed.Task;

    /// <summary>Completes once the client has moved on from this session (callers that failed on it may try the next).</summary>
    public Task Retired => _retired.Task;

    /// <summary>Connects, authenticates and subscribes. A CONNACK refusal throws <see cref="HubException"/> whose status is the
    /// MQTT 3.1.1 return code.</summary>
    public static async Task<HubSession> ConnectAsync(string hubHostName, string deviceId, HubAuthentication authentication,
        DeviceClientOptions options, Func<HubSession, MqttApplicationMessageReceivedEventArgs, Task> onMessage, CancellationToken cancellationToken)
    {
        DateTimeOffset? expiresAt = null;
        string? password = null;
        if (authentication.UsesSasToken)
        {
            expiresAt = options.TimeProvider.GetUtcNow() + options.SasTokenLifetime;
            password = await authentication.CreateSasTokenAsync(hubHostName, deviceId, expiresAt.Value, cancellationToken).ConfigureAwait(false);
        }

        var mqttOptions = new MqttClientOptionsBuilder()
            .WithClientId(deviceId)
            .WithCredentials(UserName(hubHostName, deviceId, options, authentication.HubApiVersion), password)
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithCleanSession(false)
            .WithKeepAlivePeriod(options.KeepAlive)
            .WithTimeout(options.OperationTimeout)
            .WithTcpServer(hubHostName, options.Transport == HubTransport.Mqtt ? 8883 : 443)
            .WithStreamProvider(new HubStreamProvider(hubHostName, authentication, options))
            .Build();

        var client = Factory.CreateMqttClient();
        var session = new HubSession(client, expiresAt);
        client.ApplicationMessageReceivedAsync += e => onMessage(session, e);
        client.DisconnectedAsync += _ =>
        {
            session._closed.TrySetResult();
            return Task.CompletedTask;
        };
        try
        {
            var result = await client.ConnectAsync(mqttOptions, cancellationToken).ConfigureAwait(false);
            if (result.ResultCode != MqttClientConnectResultCode.Success)
            {
                throw Refusal(result.ResultCode, null);
            }

            var subscribe = new MqttClientSubscribeOptionsBuilder();
            foreach (var filter in HubTopics.Subscriptions(deviceId).Concat(authentication.ExtraSubscriptions))
            {
                subscribe.WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce);
            }

            var subscribed = await client.SubscribeAsync(subscribe.Build(), cancellationToken).ConfigureAwait(false);
            if (subscribed.Items.FirstOrDefault(i => (int)i.ResultCode > 2) is { } failed)
            {
                throw new HubException($"The hub refused the subscription to '{failed.TopicFilter.Topic}' ({failed.ResultCode}).", 0, isTransient: false);
            }

            return session;
        }
        catch
        {
            await session.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Builds the CONNACK refusal: the status is the MQTT 3.1.1 return code.</summary>
    internal static HubException Refusal(MqttClientConnectResultCode code, Exception? inner)
    {
        var status = code switch
        {
            MqttClientConnectResultCode.UnsupportedProtocolVersion => 1,
            MqttClientConnectResultCode.ClientIdentifierNotValid => 2,
            MqttClientConnectResultCode.ServerUnavailable => 3,
            MqttClientConnectResultCode.BadUserNameOrPassword => 4,
            MqttClientConnectResultCode.NotAuthorized => 5,
            _ => 0,
        };
        return new HubException(string.Create(CultureInfo.InvariantCulture, $"The hub refused the connection: CONNACK {status} ({code})."),
            status, isTransient: status is 3 or 0, inner);
    }

    /// <summary><c>{hub}/{deviceId}/?api-version=2020-09-30&amp;DeviceClientType={ua}[&amp;model-id={dtmi}]</c> (dps-protocol.md §8).</summary>
    internal static string UserName(string hubHostName, string deviceId, DeviceClientOptions options, string apiVersion = "2020-09-30")
    {
        var user = $"{hubHostName}/{deviceId}/?api-version={apiVersion}&DeviceClientType={Uri.EscapeDataString(options.ProductInfo)}";
        return options.ModelId is { } modelId ? $"{user}&model-id={Uri.EscapeDataString(modelId)}" : user;
    }

    /// <summary>Registers an operation; false when the session is draining or closed (use the next one).</summary>
    public bool TryEnter()
    {
        Interlocked.Increment(ref _inFlight);
        if (_draining || _closed.Task.IsCompleted)
        {
            Exit();
            return false;
        }

        return true;
    }

    public void Exit()
    {
        if (Interlocked.Decrement(ref _inFlight) == 0 && _draining)
        {
            _drained.TrySetResult();
        }
    }

    /// <summary>Stops new operations and waits (up to <paramref name="timeout"/>) for those in flight.</summary>
    public async Task DrainAsync(TimeSpan timeout, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        _draining = true;
        if (Volatile.Read(ref _inFlight) == 0)
        {
            _drained.TrySetResult();
        }

        await Task.WhenAny(_drained.Task, _closed.Task).WaitAsync(timeout, timeProvider, cancellationToken).ConfigureAwait(false);
    }

    public void Retire() => _retired.TrySetResult();

    public async ValueTask DisposeAsync()
    {
        _draining = true;
        Retire();
        try
        {
            if (Client.IsConnected)
            {
                await Client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), CancellationToken.None).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is MQTTnet.Exceptions.MqttCommunicationException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            // The connection is already gone; nothing to close politely.
            _closed.TrySetResult();
        }
        finally
        {
            _closed.TrySetResult();
            Client.Dispose();
        }
    }
}

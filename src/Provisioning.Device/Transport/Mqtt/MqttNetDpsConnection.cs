using System.Buffers;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;

using MQTTnet;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Provisioning.Device.Transport.Mqtt;

/// <summary>The <see cref="IDpsMqttConnection"/> of MQTTnet 5: one MQTT 3.1.1 client over our TLS or WebSocket channel.</summary>
/// <remarks>
/// Failures are classified as HTTPS's are (dps-protocol.md §1.7): a failed TLS handshake is not transient; a refused,
/// broken or timed-out connection is.
/// </remarks>
internal sealed class MqttNetDpsConnection : IDpsMqttConnection
{
    // Read-only after construction, shared by every connection (MQTTnet reads them, never changes them; no secret in them).
    private static readonly MqttClientTcpOptions ChannelOptionsPlaceholder = new();
    private static readonly MqttClientSubscribeOptions ResponseSubscription = Subscription(DpsMqttTopics.ResponseFilter);
    private static readonly MqttClientDisconnectOptions NormalDisconnection = new() { Reason = MqttClientDisconnectOptionsReason.NormalDisconnection };

    private readonly IMqttClient _client;
    private readonly TimeSpan _communicationTimeout;
    private Action<string, ReadOnlySequence<byte>>? _messageReceived;
    private Action<Exception?>? _connectionLost;

    public MqttNetDpsConnection(SocketEndpoint endpoint, HttpMessageInvoker? webSocketInvoker, TimeSpan requestTimeout)
    {
        _client = new MqttClientFactory().CreateMqttClient(MqttNetNullLogger.Instance, new DpsChannelAdapterFactory(endpoint, webSocketInvoker));
        _client.ApplicationMessageReceivedAsync += OnMessageAsync;
        _client.DisconnectedAsync += OnDisconnectedAsync;
        // MQTTnet's own limit on a packet exchange; the transport applies RequestTimeout with the TimeProvider on top.
        _communicationTimeout = requestTimeout == Timeout.InfiniteTimeSpan ? TimeSpan.FromSeconds(100) : requestTimeout;
        Endpoint = endpoint;
    }

    public SocketEndpoint Endpoint { get; }

    public bool IsConnected => _client.IsConnected;

    public void SetHandlers(Action<string, ReadOnlySequence<byte>> messageReceived, Action<Exception?> connectionLost)
    {
        _messageReceived = messageReceived;
        _connectionLost = connectionLost;
    }

    public async ValueTask<int> ConnectAsync(string clientId, string userName, string? password, CancellationToken cancellationToken)
    {
        // The options built directly (MQTTnet's builders are objects of their own per connection). The password's bytes are
        // MQTTnet's to encode into CONNECT and zeroed once it is sent (or failed): the SAS token is not left behind in the
        // client's options.
        byte[]? passwordBytes = password is null ? null : Encoding.UTF8.GetBytes(password);
        var options = new MqttClientOptions
        {
            ProtocolVersion = MqttProtocolVersion.V311,
            ClientId = clientId,
            CleanSession = true,
            KeepAlivePeriod = TimeSpan.Zero,
            Timeout = _communicationTimeout,
            // Our adapter factory opens the channel; MQTTnet only requires channel options to be present.
            ChannelOptions = ChannelOptionsPlaceholder,
            Credentials = new MqttClientCredentials(userName, passwordBytes),
        };

        MqttClientConnectResult result;
        try
        {
            result = await _client.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex) when (!_client.IsConnected)
        {
            // MQTTnet reports the loss of the connection before it has finished closing it, and refuses a new CONNECT
            // until then: a retry moments later succeeds.
            throw new ProvisioningException(
                $"Connecting to the provisioning service ({Endpoint.Host}:{Endpoint.Port}) failed: the previous connection is still closing.",
                isTransient: true, innerException: ex);
        }
        catch (Exception ex) when (Classify(ex, "Connecting to", cancellationToken) is { } error)
        {
            throw error;
        }
        finally
        {
            if (passwordBytes is not null)
            {
                CryptographicOperations.ZeroMemory(passwordBytes);
            }
        }

        // MQTTnet 5 reports a refusing CONNACK as a result, not an exception.
        return ToReturnCode(result.ResultCode);
    }

    public async ValueTask<bool> SubscribeAsync(string topicFilter, CancellationToken cancellationToken)
    {
        MqttClientSubscribeOptions options = topicFilter == DpsMqttTopics.ResponseFilter ? ResponseSubscription : Subscription(topicFilter);
        try
        {
            MqttClientSubscribeResult result = await _client.SubscribeAsync(options, cancellationToken).ConfigureAwait(false);
            return result.Items.Count == 1 && result.Items.First().ResultCode is
                MqttClientSubscribeResultCode.GrantedQoS0 or MqttClientSubscribeResultCode.GrantedQoS1 or MqttClientSubscribeResultCode.GrantedQoS2;
        }
        catch (Exception ex) when (Classify(ex, "Subscribing at", cancellationToken) is { } error)
        {
            throw error;
        }
    }

    public async ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var message = new MqttApplicationMessage
        {
            Topic = topic,
            Payload = new ReadOnlySequence<byte>(payload),
            QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce,
        };
        try
        {
            await _client.PublishAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (Classify(ex, "Publishing to", cancellationToken) is { } error)
        {
            throw error;
        }
    }

    public async ValueTask DisconnectAsync(CancellationToken cancellationToken)
    {
        if (!_client.IsConnected)
        {
            return;
        }

        try
        {
            await _client.DisconnectAsync(NormalDisconnection, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (Classify(ex, "Disconnecting from", cancellationToken) is { } error)
        {
            throw error;
        }
    }

    public void Dispose()
    {
        _client.ApplicationMessageReceivedAsync -= OnMessageAsync;
        _client.DisconnectedAsync -= OnDisconnectedAsync;
        _client.Dispose();
    }

    private Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs args)
    {
        _messageReceived?.Invoke(args.ApplicationMessage.Topic, args.ApplicationMessage.Payload);
        return Task.CompletedTask;
    }

    private Task OnDisconnectedAsync(MqttClientDisconnectedEventArgs args)
    {
        if (args.ClientWasConnected)
        {
            _connectionLost?.Invoke(args.Exception);
        }

        return Task.CompletedTask;
    }

    private static MqttClientSubscribeOptions Subscription(string topicFilter) =>
        new MqttClientSubscribeOptionsBuilder().WithTopicFilter(topicFilter, MqttQualityOfServiceLevel.AtLeastOnce).Build();

    /// <summary>MQTT 3.1.1 §3.2.2.3 return codes, from MQTTnet's protocol-neutral result codes.</summary>
    private static int ToReturnCode(MqttClientConnectResultCode code) => code switch
    {
        MqttClientConnectResultCode.Success => 0,
        MqttClientConnectResultCode.UnsupportedProtocolVersion => 1,
        MqttClientConnectResultCode.ClientIdentifierNotValid => 2,
        MqttClientConnectResultCode.ServerUnavailable => 3,
        MqttClientConnectResultCode.BadUserNameOrPassword => 4,
        MqttClientConnectResultCode.NotAuthorized => 5,
        // Not a 3.1.1 code: reported as what it is, and never retried.
        _ => 0x80 | (int)code,
    };

    /// <returns>The error to throw, or <see langword="null"/> to let the exception pass (the caller's cancellation).</returns>
    private ProvisioningException? Classify(Exception ex, string verb, CancellationToken cancellationToken)
    {
        if (ex is OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            return null;
        }

        string where = $"{verb} the provisioning service ({Endpoint.Host}:{Endpoint.Port}{(Endpoint.WebSocketUri is null ? string.Empty : " over WebSockets")})";
        for (Exception? inner = ex; inner is not null; inner = inner.InnerException)
        {
            // Our own refusal of a received packet (MqttPacketSizeGuard), which MQTTnet wraps when it happens while it reads
            // a CONNACK or SUBACK: the real cause, never transient, as when it ends a wait for an answer.
            if (inner is ProvisioningException refused)
            {
                return refused;
            }

            if (inner is AuthenticationException)
            {
                return new ProvisioningException($"{where} failed: the TLS handshake failed ({inner.Message}).", isTransient: false, innerException: ex);
            }

            if (inner is WebSocketException { WebSocketErrorCode: WebSocketError.NotAWebSocket or WebSocketError.UnsupportedProtocol })
            {
                return new ProvisioningException($"{where} failed: the server did not accept an MQTT WebSocket ({inner.Message}).", isTransient: false, innerException: ex);
            }
        }

        if (ex is MqttProtocolViolationException)
        {
            return new ProvisioningException($"{where} failed: the service broke the MQTT protocol ({ex.Message}).", isTransient: false, innerException: ex);
        }

        if (ex is MqttCommunicationException or IOException or SocketException or WebSocketException or OperationCanceledException or HttpRequestException)
        {
            return new ProvisioningException($"{where} failed: {Describe(ex)}.", isTransient: true, innerException: ex);
        }

        return null;
    }

    private static string Describe(Exception ex)
    {
        Exception root = ex;
        while (root.InnerException is not null)
        {
            root = root.InnerException;
        }

        return root == ex ? ex.Message : $"{ex.Message} ({root.Message})";
    }
}

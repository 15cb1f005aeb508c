using System.Buffers;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Text;

using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Channel;
using MQTTnet.Exceptions;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Provisioning.Device.Transport.Mqtt;

/// <summary>
/// The <see cref="IDpsMqttConnection"/> of MQTTnet 5: MQTT 3.1.1 packets encoded and decoded by MQTTnet's channel adapter and
/// packet formatter over our TLS or WebSocket channel, exchanged in the order DPS needs by a receive loop of our own.
/// </summary>
/// <remarks>
/// <para>Not MQTTnet's <c>MqttClient</c>: for one connection that sends CONNECT, SUBSCRIBE and a few QoS 1 PUBLISHes one at a time,
/// MQTTnet with its per-connection machinery (two background tasks, a packet dispatcher, queues, events, a timeout per packet) was
/// 19–20 KB of the 43 KB a registration allocated, against 6–7 KB for the adapter and formatter alone, and it ended each connection
/// with a cancellation exception (tests/Provisioning.Device.Benchmarks/README.md, "DPS over MQTT and AMQP: allocation per
/// registration and the libraries' floors").</para>
/// <para>One request is outstanding at a time (the transport's state machine sends one at a time): its acknowledgement (CONNACK,
/// SUBACK, PUBACK with its packet identifier) completes it; any other acknowledgement is a protocol violation that closes the
/// connection, as MQTTnet's client does. A PUBLISH received (QoS 0 or 1) is acknowledged, then handed to the receiver. Failures are
/// classified as HTTPS's are (dps-protocol.md §1.7): a failed TLS handshake is not transient; a refused, broken or timed-out
/// connection is.</para>
/// </remarks>
internal sealed class MqttNetDpsConnection : IDpsMqttConnection
{
    private static readonly MqttDisconnectPacket Disconnect = new();

    private readonly DpsChannelAdapterFactory _factory;
    private readonly TimeSpan _communicationTimeout;
    private readonly Lock _gate = new();
    private Action<string, ReadOnlySequence<byte>>? _messageReceived;
    private Action<Exception?>? _connectionLost;
    private IMqttChannel? _channel;
    private MqttChannelAdapter? _adapter;
    private Task? _receiveLoop;
    private TaskCompletionSource<MqttPacket>? _awaiting;
    private MqttControlPacketType _awaitedType;
    private ushort _awaitedIdentifier;
    private ushort _lastPacketIdentifier;
    private volatile bool _connected;
    private volatile bool _closing;
    // Set by the current connection's receive loop when it ends (under the gate): a request registered after it fails at once.
    private bool _loopEnded;

    public MqttNetDpsConnection(SocketEndpoint endpoint, HttpMessageInvoker? webSocketInvoker, TimeSpan requestTimeout)
    {
        _factory = new DpsChannelAdapterFactory(endpoint, webSocketInvoker);
        // The bound of the DISCONNECT exchange (the transport applies RequestTimeout with the TimeProvider to the requests).
        _communicationTimeout = requestTimeout == Timeout.InfiniteTimeSpan ? TimeSpan.FromSeconds(100) : requestTimeout;
        Endpoint = endpoint;
    }

    public SocketEndpoint Endpoint { get; }

    public bool IsConnected => _connected;

    public void SetHandlers(Action<string, ReadOnlySequence<byte>> messageReceived, Action<Exception?> connectionLost)
    {
        _messageReceived = messageReceived;
        _connectionLost = connectionLost;
    }

    public async ValueTask<int> ConnectAsync(string clientId, string userName, string? password, CancellationToken cancellationToken)
    {
        CloseConnection();
        (IMqttChannel channel, MqttChannelAdapter adapter) = _factory.Create();
        lock (_gate)
        {
            _closing = false;
            _loopEnded = false;
            _channel = channel;
            _adapter = adapter;
        }

        // The password's bytes are the formatter's to encode into CONNECT, and zeroed once it is sent (or failed).
        byte[]? passwordBytes = password is null ? null : Encoding.UTF8.GetBytes(password);
        try
        {
            await channel.ConnectAsync(cancellationToken).ConfigureAwait(false);
            _receiveLoop = ReceiveLoopAsync(adapter);
            TaskCompletionSource<MqttPacket> connack = Expect(MqttControlPacketType.ConnAck, 0);
            using CancellationTokenRegistration cancel = CancelWith(connack, cancellationToken);
            await adapter.SendPacketAsync(
                new MqttConnectPacket { ClientId = clientId, Username = userName, Password = passwordBytes, CleanSession = true, KeepAlivePeriod = 0 },
                cancellationToken).ConfigureAwait(false);
            int code = (int)((MqttConnAckPacket)await connack.Task.ConfigureAwait(false)).ReturnCode;
            if (code == 0)
            {
                _connected = true;
            }
            else
            {
                // MQTT 3.1.1 §3.2.2.3: the server closes the connection after a refusing CONNACK.
                CloseConnection();
            }

            return code;
        }
        catch (Exception ex) when (Classify(ex, "Connecting to", cancellationToken) is { } error)
        {
            CloseConnection();
            throw error;
        }
        catch
        {
            CloseConnection();
            throw;
        }
        finally
        {
            if (passwordBytes is not null)
            {
                CryptographicOperations.ZeroMemory(passwordBytes);
            }
        }
    }

    public async ValueTask<bool> SubscribeAsync(string topicFilter, CancellationToken cancellationToken)
    {
        try
        {
            MqttChannelAdapter adapter = ConnectedAdapter();
            ushort identifier = NextPacketIdentifier();
            TaskCompletionSource<MqttPacket> suback = Expect(MqttControlPacketType.SubAck, identifier);
            using CancellationTokenRegistration cancel = CancelWith(suback, cancellationToken);
            var subscribe = new MqttSubscribePacket { PacketIdentifier = identifier };
            subscribe.TopicFilters.Add(new MqttTopicFilter { Topic = topicFilter, QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce });
            await adapter.SendPacketAsync(subscribe, cancellationToken).ConfigureAwait(false);
            var result = (MqttSubAckPacket)await suback.Task.ConfigureAwait(false);
            return result.ReasonCodes is [MqttSubscribeReasonCode.GrantedQoS0 or MqttSubscribeReasonCode.GrantedQoS1 or MqttSubscribeReasonCode.GrantedQoS2];
        }
        catch (Exception ex) when (Classify(ex, "Subscribing at", cancellationToken) is { } error)
        {
            throw error;
        }
    }

    public async ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        try
        {
            MqttChannelAdapter adapter = ConnectedAdapter();
            ushort identifier = NextPacketIdentifier();
            TaskCompletionSource<MqttPacket> puback = Expect(MqttControlPacketType.PubAck, identifier);
            using CancellationTokenRegistration cancel = CancelWith(puback, cancellationToken);
            await adapter.SendPacketAsync(
                new MqttPublishPacket
                {
                    Topic = topic,
                    Payload = new ReadOnlySequence<byte>(payload),
                    QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce,
                    PacketIdentifier = identifier,
                },
                cancellationToken).ConfigureAwait(false);
            await puback.Task.ConfigureAwait(false);
        }
        catch (Exception ex) when (Classify(ex, "Publishing to", cancellationToken) is { } error)
        {
            throw error;
        }
    }

    /// <remarks>DISCONNECT, then the channel closes (its pending read ends as end of stream, so the receive loop ends without an
    /// exception), all within the communication timeout.</remarks>
    public async ValueTask DisconnectAsync(CancellationToken cancellationToken)
    {
        if (!_connected || _adapter is not { } adapter || _channel is not { } channel)
        {
            return;
        }

        _connected = false;
        _closing = true;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_communicationTimeout);
        try
        {
            await adapter.SendPacketAsync(Disconnect, timeout.Token).ConfigureAwait(false);
            await channel.DisconnectAsync(timeout.Token).ConfigureAwait(false);
            if (_receiveLoop is { } loop)
            {
                await loop.WaitAsync(timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (Classify(ex, "Disconnecting from", cancellationToken) is { } error)
        {
            throw error;
        }
        finally
        {
            CloseConnection();
        }
    }

    public void Dispose() => CloseConnection();

    /// <summary>Reads packets until the connection ends: acknowledgements complete the request waiting for them, PUBLISHes go to the
    /// receiver. Never throws: how the connection ended goes to the waiting request and, unless we closed it, to the receiver of
    /// the loss.</summary>
    private async Task ReceiveLoopAsync(MqttChannelAdapter adapter)
    {
        Exception? cause = null;
        try
        {
            // No token: the loop ends when the channel does (end of stream after DISCONNECT, or closed under the read).
            while (await adapter.ReceivePacketAsync(CancellationToken.None).ConfigureAwait(false) is { } packet)
            {
                if (packet is MqttPublishPacket publish)
                {
                    await OnPublishAsync(adapter, publish).ConfigureAwait(false);
                }
                else if (!TryComplete(packet))
                {
                    throw new MqttProtocolViolationException($"Received packet '{packet}' at an unexpected time.");
                }
            }
        }
        catch (Exception ex)
        {
            cause = ex;
        }

        bool report;
        TaskCompletionSource<MqttPacket>? awaiting;
        lock (_gate)
        {
            if (!ReferenceEquals(_adapter, adapter))
            {
                // The loop of a connection already closed (and perhaps replaced): nothing current is its to end.
                return;
            }

            report = _connected && !_closing;
            _connected = false;
            _loopEnded = true;
            awaiting = _awaiting;
            _awaiting = null;
        }

        awaiting?.TrySetException(cause ?? ConnectionClosed());
        if (report)
        {
            // A broken protocol is the service's fault and not worth retrying (as when it breaks a request's answer); any other end
            // of the connection is for the transport to classify.
            _connectionLost?.Invoke(cause is MqttProtocolViolationException ? Classify(cause, "Reading from", CancellationToken.None) : cause);
        }
    }

    private async ValueTask OnPublishAsync(MqttChannelAdapter adapter, MqttPublishPacket publish)
    {
        if (publish.QualityOfServiceLevel == MqttQualityOfServiceLevel.ExactlyOnce)
        {
            // The subscription grants QoS 1 at most (MQTT 3.1.1 §3.8.4).
            throw new MqttProtocolViolationException("Received a QoS 2 PUBLISH on a QoS 1 subscription.");
        }

        // Acknowledged first: the receiver may end the registration at once, and its DISCONNECT must follow the PUBACK.
        if (publish.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtLeastOnce)
        {
            await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = publish.PacketIdentifier }, CancellationToken.None).ConfigureAwait(false);
        }

        _messageReceived?.Invoke(publish.Topic, publish.Payload);
    }

    /// <summary>Registers the one request now waiting for an acknowledgement (before its packet is sent: the answer may come first).</summary>
    private TaskCompletionSource<MqttPacket> Expect(MqttControlPacketType type, ushort identifier)
    {
        var awaiting = new TaskCompletionSource<MqttPacket>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_loopEnded)
            {
                // The connection ended since the caller looked: no answer can come.
                awaiting.TrySetException(ConnectionClosed());
                return awaiting;
            }

            _awaiting = awaiting;
            _awaitedType = type;
            _awaitedIdentifier = identifier;
        }

        return awaiting;
    }

    /// <summary>Ends the wait for an acknowledgement when <paramref name="cancellationToken"/> is cancelled (a registration on the
    /// token instead of a wrapping task per wait).</summary>
    private static CancellationTokenRegistration CancelWith(TaskCompletionSource<MqttPacket> awaiting, CancellationToken cancellationToken) =>
        cancellationToken.UnsafeRegister(static (state, token) => ((TaskCompletionSource<MqttPacket>)state!).TrySetCanceled(token), awaiting);

    private bool TryComplete(MqttPacket packet)
    {
        TaskCompletionSource<MqttPacket>? awaiting;
        lock (_gate)
        {
            awaiting = _awaiting;
            bool expected = awaiting is not null && _awaitedType switch
            {
                MqttControlPacketType.ConnAck => packet is MqttConnAckPacket,
                MqttControlPacketType.SubAck => packet is MqttSubAckPacket { PacketIdentifier: var id } && id == _awaitedIdentifier,
                MqttControlPacketType.PubAck => packet is MqttPubAckPacket { PacketIdentifier: var id } && id == _awaitedIdentifier,
                _ => false,
            };
            if (!expected)
            {
                return false;
            }

            _awaiting = null;
        }

        awaiting!.TrySetResult(packet);
        return true;
    }

    /// <summary>MQTT 3.1.1 §2.3.1: a non-zero identifier per request on this connection.</summary>
    private ushort NextPacketIdentifier()
    {
        _lastPacketIdentifier = _lastPacketIdentifier == ushort.MaxValue ? (ushort)1 : (ushort)(_lastPacketIdentifier + 1);
        return _lastPacketIdentifier;
    }

    private static MqttCommunicationException ConnectionClosed() => new("The connection to the provisioning service was closed.");

    private MqttChannelAdapter ConnectedAdapter() =>
        _connected && _adapter is { } adapter ? adapter : throw new MqttCommunicationException("The connection to the provisioning service is not open.");

    private void CloseConnection()
    {
        _connected = false;
        _closing = true;
        // Disposing the adapter closes the channel: a pending read ends, and with it the receive loop (which then finds the
        // connection is no longer current and leaves the state alone).
        MqttChannelAdapter? adapter;
        lock (_gate)
        {
            adapter = _adapter;
            _adapter = null;
        }

        adapter?.Dispose();
        _channel = null;
        _receiveLoop = null;
    }

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

using System.Buffers;
using System.Globalization;
using System.Security.Cryptography.X509Certificates;

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

using Provisioning.Emulator.Device;
using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Mqtt;

/// <summary>
/// DPS over MQTT 3.1.1 (dps-protocol.md §5), on MQTTnet.Server, served by the same <see cref="DeviceService"/> as HTTPS:
/// the device authenticates at CONNECT, subscribes to its responses, publishes register and status requests, and gets
/// each answer at QoS 1 after the acknowledgement of its request.
/// </summary>
/// <remarks>
/// A device may publish only the two request topics and subscribe only under <c>$dps/registrations/res/</c>; anything else
/// closes the connection or is refused in the SUBACK. Answers go to the requesting connection alone.
/// </remarks>
internal sealed partial class DpsMqttEndpoint : IAsyncDisposable
{
    // The sender id of answers: '$' never starts a registration id, so no device can pose as the service.
    private const string SenderPrefix = "$dps/";

    private readonly DeviceService _service;
    private readonly DpsMqttListener _listener;
    private readonly MqttServer _server;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly HashSet<Task> _inFlight = [];
    private int _connections;
    private int _cleanDisconnects;

    private DpsMqttEndpoint(DeviceService service, DpsMqttListener listener, ILogger logger)
    {
        _service = service;
        _listener = listener;
        _logger = logger;
        var options = new MqttServerOptionsBuilder().WithoutDefaultEndpoint().WithPersistentSessions(false).Build();
        _server = new MqttServerFactory().CreateMqttServer(options, [listener]);
        _server.ValidatingConnectionAsync += ValidateConnectionAsync;
        _server.InterceptingSubscriptionAsync += InterceptSubscriptionAsync;
        _server.InterceptingInboundPacketAsync += InterceptInboundAsync;
        _server.InterceptingPublishAsync += InterceptPublishAsync;
        _server.InterceptingOutboundPacketAsync += InterceptOutboundAsync;
        _server.InterceptingClientEnqueueAsync += InterceptEnqueueAsync;
        _server.ClientConnectedAsync += _ => { Interlocked.Increment(ref _connections); return Task.CompletedTask; };
        _server.ClientDisconnectedAsync += OnDisconnectedAsync;
    }

    /// <summary>Device connections whose CONNECT was accepted and that are still open.</summary>
    public int ConnectionCount => Volatile.Read(ref _connections);

    /// <summary>Connections the device ended with DISCONNECT (rather than by dropping the socket).</summary>
    public int CleanDisconnectCount => Volatile.Read(ref _cleanDisconnects);

    /// <summary>The TCP port of MQTT over TLS, or null when off.</summary>
    public int? TcpPort => _listener.TcpPort;

    /// <summary>The port of MQTT over WebSockets, or null when off.</summary>
    public int? WebSocketPort => _listener.WebSocketPort;

    /// <summary>Starts the endpoint on <paramref name="tcpPort"/> and <paramref name="webSocketPort"/> (0: the OS chooses; null: off).</summary>
    public static async Task<DpsMqttEndpoint> StartAsync(DeviceService service, X509Certificate2 serverCertificate, int? tcpPort, int? webSocketPort,
        ILoggerFactory? loggerFactory, CancellationToken cancellationToken)
    {
        var listener = DpsMqttListener.Create(serverCertificate, tcpPort, webSocketPort, loggerFactory, service.TlsHandshakeTimeout);
        var endpoint = new DpsMqttEndpoint(service, listener, loggerFactory?.CreateLogger<DpsMqttEndpoint>() ?? NullLogger<DpsMqttEndpoint>.Instance);
        try
        {
            await endpoint._server.StartAsync().ConfigureAwait(false);
            await listener.ListenAsync(cancellationToken).ConfigureAwait(false);
            return endpoint;
        }
        catch
        {
            await endpoint.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Stops serving: ends every session, waits for the answers in flight, closes the sockets.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_server.IsStarted)
        {
            await _server.StopAsync(new MqttServerStopOptionsBuilder().Build()).ConfigureAwait(false);
        }

        Task[] inFlight;
        lock (_gate)
        {
            inFlight = [.. _inFlight];
        }

        await Task.WhenAll(inFlight).ConfigureAwait(false);
        _server.Dispose();
        await _listener.DisposeAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private Task OnDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        // MQTTnet reports the end of accepted connections only, as it reported their start.
        Interlocked.Decrement(ref _connections);

        if (e.DisconnectType == MqttClientDisconnectType.Clean)
        {
            Interlocked.Increment(ref _cleanDisconnects);
        }

        return Task.CompletedTask;
    }

    private Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        var (code, why) = Authenticate(e);
        e.ReasonCode = code;
        if (code != MqttConnectReasonCode.Success && _logger.IsEnabled(LogLevel.Information))
        {
            // The reason never includes the password.
            var returnCode = ReturnCode(code);
            MqttLog.Refused(_logger, e.ClientId ?? "", returnCode, why);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// CONNECT: MQTT 3.1.1, client id = registration id = the id in the user name, a known ID scope and api-version, then
    /// the same authentication as HTTPS (SAS password or TLS client certificate). TPM is refused: it needs a challenge
    /// round trip that CONNECT cannot carry (dps-protocol.md §5).
    /// </summary>
    private (MqttConnectReasonCode Code, string Why) Authenticate(ValidatingConnectionEventArgs e)
    {
        if (e.ProtocolVersion != MQTTnet.Formatter.MqttProtocolVersion.V311)
        {
            return (MqttConnectReasonCode.UnsupportedProtocolVersion, "DPS speaks MQTT 3.1.1 only");
        }

        var clientId = e.ClientId;
        if (string.IsNullOrEmpty(clientId) || !DeviceService.IsValidRegistrationId(clientId))
        {
            return (MqttConnectReasonCode.ClientIdentifierNotValid, "the client id is not a registration id");
        }

        if (DpsMqttUserName.Parse(e.UserName) is not { } userName)
        {
            return (MqttConnectReasonCode.BadUserNameOrPassword, "the user name is not {idScope}/registrations/{registrationId}/api-version=…");
        }

        if (!string.Equals(userName.RegistrationId, clientId, StringComparison.OrdinalIgnoreCase))
        {
            return (MqttConnectReasonCode.ClientIdentifierNotValid, "the registration id in the user name is not the client id");
        }

        if (ApiVersions.Match(userName.ApiVersion, ApiVersions.Device) is null)
        {
            return (MqttConnectReasonCode.BadUserNameOrPassword, "the api-version is missing or not supported");
        }

        if (!string.Equals(userName.IdScope, _service.IdScope, StringComparison.OrdinalIgnoreCase))
        {
            return (MqttConnectReasonCode.NotAuthorized, "the ID scope is unknown");
        }

        if (_service.Authenticator.IsTpmEnrollment(clientId))
        {
            return (MqttConnectReasonCode.NotAuthorized, "TPM attestation is not supported over MQTT; use HTTPS");
        }

        var session = new DpsMqttSession(userName with { RegistrationId = clientId }, e.Password ?? "", e.ClientCertificate, _listener.IntermediatesOf(e.ClientCertificate));
        var outcome = _service.Authenticator.Authenticate(session.ToDeviceRequest(), null, mayChallenge: false);
        if (outcome.Identity is not { } identity)
        {
            return (outcome.ErrorCode == DpsErrorCodes.MalformedToken ? MqttConnectReasonCode.BadUserNameOrPassword : MqttConnectReasonCode.NotAuthorized,
                $"{outcome.ErrorCode.ToString(CultureInfo.InvariantCulture)}: {outcome.Message}");
        }

        identity.Dispose();
        e.SessionItems[DpsMqttSession.Item] = session;
        return (MqttConnectReasonCode.Success, "");
    }

    private Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        if (!DpsMqttTopics.IsAllowedSubscription(e.TopicFilter.Topic))
        {
            MqttLog.ForbiddenSubscription(_logger, e.ClientId, e.TopicFilter.Topic);
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// A request is taken here, where its packet identifier is known: QoS 0 is served at once, QoS 1 and 2 once their
    /// acknowledgement goes out (<see cref="InterceptOutboundAsync"/>), so the answer never overtakes the PUBACK.
    /// </summary>
    private Task InterceptInboundAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttPublishPacket publish && e.SessionItems[DpsMqttSession.Item] is DpsMqttSession session
            && DpsMqttTopics.ParseRequest(publish.Topic) is { } topic)
        {
            var request = new DpsMqttPendingRequest(topic, publish.Payload.ToArray());
            if (publish.QualityOfServiceLevel == MqttQualityOfServiceLevel.AtMostOnce)
            {
                Serve(e.ClientId, session, request);
            }
            else
            {
                session.Pending[publish.PacketIdentifier] = request;
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>Nothing a device publishes is routed to anyone; a topic that is not a request closes the connection.</summary>
    private Task InterceptPublishAsync(InterceptingPublishEventArgs e)
    {
        if (e.ClientId is { } sender && sender.StartsWith(SenderPrefix, StringComparison.Ordinal))
        {
            return Task.CompletedTask;
        }

        e.ProcessPublish = false;
        if (DpsMqttTopics.ParseRequest(e.ApplicationMessage.Topic) is null)
        {
            MqttLog.ForbiddenTopic(_logger, e.ClientId ?? "", e.ApplicationMessage.Topic);
            e.CloseConnection = true;
        }

        return Task.CompletedTask;
    }

    private Task InterceptOutboundAsync(InterceptingPacketEventArgs e)
    {
        if (e.Packet is MqttPubAckPacket or MqttPubRecPacket && e.SessionItems[DpsMqttSession.Item] is DpsMqttSession session
            && session.Pending.TryRemove(((MqttPacketWithIdentifier)e.Packet).PacketIdentifier, out var request))
        {
            // The acknowledgement is being written by this client's only sender; the answer is queued behind it.
            Serve(e.ClientId, session, request);
        }

        return Task.CompletedTask;
    }

    /// <summary>An answer reaches only the connection it was made for.</summary>
    private static Task InterceptEnqueueAsync(InterceptingClientApplicationMessageEnqueueEventArgs e)
    {
        e.AcceptEnqueue = e.SenderClientId is { } sender && sender.Length == SenderPrefix.Length + e.ReceiverClientId.Length
            && sender.StartsWith(SenderPrefix, StringComparison.Ordinal) && sender.EndsWith(e.ReceiverClientId, StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    private void Serve(string clientId, DpsMqttSession session, DpsMqttPendingRequest request)
    {
        lock (_gate)
        {
            if (_stopping.IsCancellationRequested)
            {
                return;
            }

            var task = ServeAsync(clientId, session, request, _stopping.Token);
            _inFlight.Add(task);
            _ = task.ContinueWith(done => { lock (_gate) { _inFlight.Remove(done); } }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private static int ReturnCode(MqttConnectReasonCode code) => code switch
    {
        MqttConnectReasonCode.Success => 0,
        MqttConnectReasonCode.UnsupportedProtocolVersion => 1,
        MqttConnectReasonCode.ClientIdentifierNotValid => 2,
        MqttConnectReasonCode.ServerUnavailable => 3,
        MqttConnectReasonCode.BadUserNameOrPassword => 4,
        _ => 5,
    };
}

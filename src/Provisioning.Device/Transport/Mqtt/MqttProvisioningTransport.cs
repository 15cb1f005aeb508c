using System.Buffers;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;

using Microsoft.Extensions.Logging;

using Provisioning.Device.Diagnostics;
using Provisioning.Device.Transport.Http;

namespace Provisioning.Device.Transport.Mqtt;

/// <summary>
/// DPS over MQTT 3.1.1 (dps-protocol.md §5) for one registration: CONNECT as the registration id, SUBSCRIBE to the
/// responses, then one PUBLISH per request answered on a response topic that carries the same <c>$rid</c>.
/// </summary>
/// <remarks>
/// The connection opens on the first request and again after it is lost; <see cref="DisposeAsync"/> sends DISCONNECT,
/// and the client disposes the transport when the registration ends, on every path. Bodies are read by
/// <see cref="DpsResponseReader"/> exactly as over HTTPS; the topic's status stands for the HTTP status and its
/// <c>retry-after</c> for the header. The register body is the HTTPS body (<c>{"registrationId":…[,"payload":…]}</c>,
/// the C SDK's form); the status request body is empty (the C# SDK's form).
/// </remarks>
internal sealed class MqttProvisioningTransport : IProvisioningTransport, IAsyncDisposable
{
    private const string RegistrationOperation = "the registration";
    private const string PollOperation = "the status poll";

    private readonly IDpsMqttConnection _connection;
    private readonly TimeSpan _requestTimeout;
    private readonly TimeProvider _time;
    private readonly string _clientVersion;
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private PendingRequest? _pending;
    private int _lastRequestId;
    // Cleared by the library's receive loop when the connection is lost.
    private volatile bool _subscribed;
    private bool _disposed;

    public MqttProvisioningTransport(IDpsMqttConnection connection, ProvisioningClientOptions options, ILogger logger)
    {
        _connection = connection;
        _requestTimeout = options.RequestTimeout;
        _time = options.TimeProvider;
        _clientVersion = Uri.EscapeDataString(UserAgent.Build(options.ProductInfo));
        _logger = logger;
        connection.SetHandlers(OnMessage, OnConnectionLost);
    }

    public ValueTask<DpsReply> RegisterAsync(DpsRequestContext context, CancellationToken cancellationToken) =>
        SendAsync(context, DpsMqttTopics.Register, context.Body, RegistrationOperation, cancellationToken);

    public ValueTask<DpsReply> GetOperationStatusAsync(DpsRequestContext context, string operationId, CancellationToken cancellationToken) =>
        SendAsync(context, rid => DpsMqttTopics.OperationStatus(rid, operationId), ReadOnlyMemory<byte>.Empty, PollOperation, cancellationToken);

    /// <summary>Sends DISCONNECT if connected, then closes; a failure to say goodbye is logged, never thrown.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            // Not the caller's token: a canceled registration still closes cleanly. MQTTnet's timeout bounds it.
            await _connection.DisconnectAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (ProvisioningException ex)
        {
            Log.MqttDisconnectFailed(_logger, ex.Message);
        }
        finally
        {
            _connection.Dispose();
        }
    }

    /// <summary>Closes without DISCONNECT; the client always uses <see cref="DisposeAsync"/>.</summary>
    public void Dispose()
    {
        _disposed = true;
        _connection.Dispose();
    }

    private async ValueTask<DpsReply> SendAsync(
        DpsRequestContext context, Func<string, string> topicFor, ReadOnlyMemory<byte> body, string operation, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var deadline = Deadline.Start(_requestTimeout, _time, cancellationToken);
        CancellationToken token = deadline.Token;
        PendingRequest? pending = null;
        try
        {
            await EnsureConnectedAsync(context, token).ConfigureAwait(false);
            string requestId = Interlocked.Increment(ref _lastRequestId).ToString(CultureInfo.InvariantCulture);
            pending = new PendingRequest(requestId, operation);
            lock (_gate)
            {
                // The state machine sends one request at a time; a late answer to an older one no longer matches.
                _pending = pending;
            }

            // Registered before publishing: the answer may arrive before the PUBACK does.
            await _connection.PublishAsync(topicFor(requestId), body, token).ConfigureAwait(false);
            (DpsMqttResponse response, ArraySegment<byte> payload) = await pending.Task.WaitAsync(token).ConfigureAwait(false);
            try
            {
                return DpsResponseReader.Interpret(response.Status, payload, response.RetryAfter, challengeAllowed: false, operation);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(payload);
            }
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ProvisioningException(
                $"{Capitalize(operation)} over MQTT timed out after {_requestTimeout.TotalSeconds:0.###} s.", isTransient: true, innerException: ex);
        }
        finally
        {
            lock (_gate)
            {
                if (_pending == pending)
                {
                    _pending = null;
                }
            }

            // A timeout or cancellation may win the race against an answer that already arrived (or arrives now):
            // its payload can hold the activation blob, so it is zeroed whichever way the wait ended.
            pending?.Close();
        }
    }

    private async ValueTask EnsureConnectedAsync(DpsRequestContext context, CancellationToken cancellationToken)
    {
        if (!_connection.IsConnected)
        {
            _subscribed = false;
            string userName = $"{context.IdScope}/registrations/{context.RegistrationId}/api-version={context.ApiVersion}&ClientVersion={_clientVersion}";
            int code = await _connection.ConnectAsync(context.RegistrationId, userName, context.Authorization, cancellationToken).ConfigureAwait(false);
            if (code != 0)
            {
                throw ConnectRefused(code);
            }
        }

        if (!_subscribed)
        {
            if (!await _connection.SubscribeAsync(DpsMqttTopics.ResponseFilter, cancellationToken).ConfigureAwait(false))
            {
                throw new ProvisioningException(
                    $"The provisioning service refused the subscription to {DpsMqttTopics.ResponseFilter}.", isTransient: false);
            }

            _subscribed = true;
        }
    }

    private void OnMessage(string topic, ReadOnlySequence<byte> payload)
    {
        PendingRequest? pending;
        lock (_gate)
        {
            pending = _pending;
        }

        DpsMqttResponse response;
        try
        {
            response = DpsMqttTopics.ParseResponse(topic, pending?.Operation ?? "a request");
        }
        catch (ProvisioningException ex)
        {
            // The request id may be what is malformed, so the outstanding request is the one answered badly.
            if (pending is null)
            {
                Log.MqttResponseIgnored(_logger, ex.Message);
            }

            pending?.Fail(ex);
            return;
        }

        if (pending is null || response.RequestId != pending.RequestId)
        {
            Log.MqttResponseIgnored(_logger, $"no request is waiting for $rid={response.RequestId}");
            return;
        }

        if (payload.Length > DpsResponseReader.MaxBodyBytes)
        {
            pending.Fail(ProvisioningException.Malformed(
                pending.Operation, $"the body is {payload.Length} bytes, over the {DpsResponseReader.MaxBodyBytes / 1024} KB limit", response.Status));
            return;
        }

        // A pooled copy (MQTTnet's buffer is its own once this returns), zeroed and given back when the request ends.
        int length = (int)payload.Length;
        byte[] copy = length == 0 ? [] : ArrayPool<byte>.Shared.Rent(length);
        payload.CopyTo(copy);
        pending.Complete(response, copy, length, pooled: length > 0);
    }

    private void OnConnectionLost(Exception? cause)
    {
        _subscribed = false;
        PendingRequest? pending;
        lock (_gate)
        {
            pending = _pending;
        }

        if (pending is null)
        {
            return;
        }

        // A refusal of ours (an oversized packet) is the real cause, and it is not transient.
        for (Exception? inner = cause; inner is not null; inner = inner.InnerException)
        {
            if (inner is ProvisioningException refused)
            {
                pending.Fail(refused);
                return;
            }
        }

        pending.Fail(new ProvisioningException(
            $"The MQTT connection to the provisioning service closed while waiting for the answer to {pending.Operation}" +
            (cause is null ? "." : $" ({cause.Message})."),
            isTransient: true,
            innerException: cause));
    }

    /// <summary>MQTT 3.1.1 §3.2.2.3; dps-protocol.md §5: only 3 (server unavailable) is worth retrying.</summary>
    private static ProvisioningException ConnectRefused(int code)
    {
        (string reason, HttpStatusCode? status) = code switch
        {
            1 => ("unacceptable protocol version", (HttpStatusCode?)null),
            2 => ("identifier rejected: the registration id is not acceptable as an MQTT client id", null),
            3 => ("server unavailable", HttpStatusCode.ServiceUnavailable),
            4 => ("bad user name or password: the ID scope, registration id or SAS token was not accepted", HttpStatusCode.Unauthorized),
            5 => ("not authorized: the device's credentials were not accepted", HttpStatusCode.Unauthorized),
            _ => ("an unknown return code", null),
        };
        return new ProvisioningException(
            $"The provisioning service refused the MQTT connection with CONNACK return code {code} ({reason}).", isTransient: code == 3, statusCode: status);
    }

    private static string Capitalize(string text) => char.ToUpperInvariant(text[0]) + text[1..];

    /// <summary>One request waiting for its response topic.</summary>
    internal sealed class PendingRequest
    {
        private readonly TaskCompletionSource<(DpsMqttResponse, ArraySegment<byte>)> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly Lock _lock = new();
        private bool _closed;
        private byte[]? _payload;
        private int _length;
        private bool _pooled;

        public PendingRequest(string requestId, string operation)
        {
            RequestId = requestId;
            Operation = operation;
        }

        public string RequestId { get; }

        public string Operation { get; }

        public Task<(DpsMqttResponse Response, ArraySegment<byte> Payload)> Task => _completion.Task;

        public void Complete(DpsMqttResponse response, byte[] payload) => Complete(response, payload, payload.Length, pooled: false);

        /// <summary>Delivers the answer; its first <paramref name="length"/> bytes of <paramref name="payload"/> are the body, and a
        /// <paramref name="pooled"/> array goes back to the shared pool (zeroed) when the request ends.</summary>
        public void Complete(DpsMqttResponse response, byte[] payload, int length, bool pooled)
        {
            lock (_lock)
            {
                // A duplicate delivery (QoS 1 allows it): the first answer stands. After Close no one will read it.
                if (_closed || !_completion.TrySetResult((response, new ArraySegment<byte>(payload, 0, length))))
                {
                    Release(payload, length, pooled);
                }
                else
                {
                    _payload = payload;
                    _length = length;
                    _pooled = pooled;
                }
            }
        }

        /// <summary>Ends the request: a payload delivered (now or later) is zeroed, whether or not it was read.</summary>
        public void Close()
        {
            lock (_lock)
            {
                _closed = true;
                if (_payload is not null)
                {
                    Release(_payload, _length, _pooled);
                    _payload = null;
                }
            }
        }

        public void Fail(ProvisioningException error) => _completion.TrySetException(error);

        private static void Release(byte[] payload, int length, bool pooled)
        {
            CryptographicOperations.ZeroMemory(payload.AsSpan(0, length));
            if (pooled)
            {
                ArrayPool<byte>.Shared.Return(payload);
            }
        }
    }
}

using System.Buffers;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;

using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Encoding;
using Microsoft.Azure.Amqp.Framing;
using Microsoft.Azure.Amqp.Sasl;
using Microsoft.Extensions.Logging;

using Provisioning.Device.Diagnostics;
using Provisioning.Device.Transport.Http;

namespace Provisioning.Device.Transport.Amqp;

/// <summary>
/// DPS over AMQP 1.0 (dps-protocol.md §6) for one registration: one connection whose SASL layer authenticates the device,
/// then one message per request on the sender link, answered by one message on the receiver link.
/// </summary>
/// <remarks>
/// The register message carries the HTTPS body (<c>{"registrationId":…[,"tpm":…][,"payload":…]}</c>, the C SDK's form) and
/// <c>iotdps-operation-type=iotdps-register</c>; the status message carries <c>iotdps-get-operationstatus</c> and
/// <c>iotdps-operation-id</c>. Answers are the HTTPS bodies, read by <see cref="DpsResponseReader"/>; their
/// <c>Retry-After</c> application property stands for the header. A rejected delivery carries the DPS error JSON in
/// <c>error.description</c> and its status is <c>errorCode / 1000</c>. TPM is answered inside SASL
/// (<see cref="SaslTpmClientHandler"/>), so the state machine never sees a challenge. A failed exchange aborts the
/// connection; the next request (a retry) opens a new one and authenticates again.
/// </remarks>
internal sealed class AmqpProvisioningTransport : IProvisioningTransport, IAsyncDisposable
{
    public const string OperationTypeProperty = "iotdps-operation-type";
    public const string OperationIdProperty = "iotdps-operation-id";
    public const string ForceRegistrationProperty = "iotdps-forceRegistration";
    public const string RegisterOperation = "iotdps-register";
    public const string StatusOperation = "iotdps-get-operationstatus";
    public const string RetryAfterProperty = "Retry-After";

    private const string RegistrationOperation = "the registration";
    private const string PollOperation = "the status poll";

    /// <summary>Answers to requests that timed out may still arrive; this many are skipped before giving up.</summary>
    private const int MaxStaleAnswers = 8;

    private readonly SocketEndpoint _endpoint;
    private readonly HttpMessageInvoker? _webSocketInvoker;
    private readonly ProvisioningAttestation _attestation;
    private readonly ProvisioningClientOptions _options;
    private readonly string _clientVersion;
    private readonly ILogger _logger;
    private AmqpDpsConnection? _connection;
    private bool _disposed;

    public AmqpProvisioningTransport(
        SocketEndpoint endpoint, HttpMessageInvoker? webSocketInvoker, ProvisioningAttestation attestation, ProvisioningClientOptions options, ILogger logger)
    {
        _endpoint = endpoint;
        _webSocketInvoker = webSocketInvoker;
        _attestation = attestation;
        _options = options;
        _clientVersion = UserAgent.Build(options.ProductInfo);
        _logger = logger;
    }

    public ValueTask<DpsReply> RegisterAsync(DpsRequestContext context, CancellationToken cancellationToken) =>
        SendAsync(context, null, RegistrationOperation, cancellationToken);

    public ValueTask<DpsReply> GetOperationStatusAsync(DpsRequestContext context, string operationId, CancellationToken cancellationToken) =>
        SendAsync(context, operationId, PollOperation, cancellationToken);

    /// <summary>Closes the connection cleanly (AMQP close); a failure to say goodbye is logged, never thrown.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (Interlocked.Exchange(ref _connection, null) is { } connection)
        {
            try
            {
                await connection.CloseAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException or AmqpException or IOException or ObjectDisposedException)
            {
                Log.AmqpCloseFailed(_logger, ex.Message);
            }
        }
    }

    /// <summary>Aborts the connection without a close frame; the client always uses <see cref="DisposeAsync"/>.</summary>
    public void Dispose()
    {
        _disposed = true;
        Interlocked.Exchange(ref _connection, null)?.Abort();
    }

    private async ValueTask<DpsReply> SendAsync(DpsRequestContext context, string? operationId, string operation, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        using var deadline = Deadline.Start(_options.RequestTimeout, _options.TimeProvider, cancellationToken);
        CancellationToken token = deadline.Token;
        bool keep = false;
        try
        {
            AmqpDpsConnection connection = await EnsureConnectedAsync(context, token).ConfigureAwait(false);
            string correlationId = Guid.NewGuid().ToString();
            Outcome outcome;
            using (AmqpMessage request = CreateRequest(context, operationId, correlationId))
            {
                outcome = await connection.Sender.SendMessageAsync(
                    request, new ArraySegment<byte>(Guid.NewGuid().ToByteArray()), AmqpConstants.NullBinary, token).ConfigureAwait(false);
            }

            if (outcome is Rejected rejected)
            {
                // The service refused this request only; the connection stays usable.
                keep = true;
                throw AmqpErrors.FromRejection(rejected, operation);
            }

            if (outcome is not Accepted)
            {
                throw new ProvisioningException(
                    $"The provisioning service did not accept {operation} over AMQP (outcome {outcome.DescriptorName}).", isTransient: true);
            }

            DpsReply reply = await ReceiveAnswerAsync(connection, correlationId, operation, token).ConfigureAwait(false);
            keep = true;
            return reply;
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ProvisioningException(
                $"{Capitalize(operation)} over AMQP timed out after {_options.RequestTimeout.TotalSeconds:0.###} s.", isTransient: true, innerException: ex);
        }
        catch (Exception ex) when (ex is not ProvisioningException and not OperationCanceledException && AmqpErrors.IsCommunicationFailure(ex))
        {
            throw AmqpErrors.FromFailure(ex, operation);
        }
        finally
        {
            if (!keep)
            {
                // Whatever state the links are in, the next attempt starts on a new connection.
                Interlocked.Exchange(ref _connection, null)?.Abort();
            }
        }
    }

    private async ValueTask<AmqpDpsConnection> EnsureConnectedAsync(DpsRequestContext context, CancellationToken cancellationToken)
    {
        if (_connection is { IsOpen: true } open)
        {
            return open;
        }

        Interlocked.Exchange(ref _connection, null)?.Abort();
        SaslHandler? sasl = await CreateSaslHandlerAsync(context, cancellationToken).ConfigureAwait(false);
        string address = context.SasResource;
        AmqpDpsConnection connection = await AmqpDpsConnection.OpenAsync(
            _endpoint, _webSocketInvoker, sasl, address, context.ApiVersion, _clientVersion, cancellationToken).ConfigureAwait(false);
        _connection = connection;
        return connection;
    }

    /// <summary>PLAIN with the SAS (symmetric key), <c>TPM</c> (the challenge in SASL), or none (X.509: TLS alone).</summary>
    private async ValueTask<SaslHandler?> CreateSaslHandlerAsync(DpsRequestContext context, CancellationToken cancellationToken)
    {
        if (context.Authorization is { } sas)
        {
            return new SaslPlainHandler { AuthenticationIdentity = context.SasResource, Password = sas };
        }

        if (await _attestation.GetTpmPublicKeysAsync(cancellationToken).ConfigureAwait(false) is { } keys)
        {
            return new SaslTpmClientHandler(context.IdScope, context.RegistrationId, keys.EndorsementKey, keys.StorageRootKey, async blob =>
            {
                await _attestation.AnswerChallengeAsync(blob, cancellationToken).ConfigureAwait(false);
                return await _attestation.GetAuthorizationAsync(context.SasResource, _options.TimeProvider.GetUtcNow() + _options.SasTokenTimeToLive, cancellationToken)
                    .ConfigureAwait(false) ?? throw new ProvisioningException("The TPM attestation produced no SAS token after activation.", isTransient: false);
            });
        }

        return null;
    }

    private static AmqpMessage CreateRequest(DpsRequestContext context, string? operationId, string correlationId)
    {
        AmqpMessage message = operationId is null
            ? AmqpMessage.Create(new Data { Value = new ArraySegment<byte>(context.Body) })
            : AmqpMessage.Create(new AmqpValue { Value = StatusOperation });
        message.Properties.CorrelationId = correlationId;
        message.ApplicationProperties.Map[OperationTypeProperty] = operationId is null ? RegisterOperation : StatusOperation;
        if (operationId is null)
        {
            message.ApplicationProperties.Map[ForceRegistrationProperty] = false;
        }
        else
        {
            message.ApplicationProperties.Map[OperationIdProperty] = operationId;
        }

        return message;
    }

    private static async Task<DpsReply> ReceiveAnswerAsync(AmqpDpsConnection connection, string correlationId, string operation, CancellationToken cancellationToken)
    {
        for (int stale = 0; ; stale++)
        {
            AmqpMessage? answer = await connection.Receiver.ReceiveMessageAsync(cancellationToken).ConfigureAwait(false);
            if (answer is null)
            {
                // The link closed while waiting.
                throw new ProvisioningException(
                    $"The AMQP link to the provisioning service closed while waiting for the answer to {operation}.", isTransient: true);
            }

            using (answer)
            {
                connection.Receiver.AcceptMessage(answer, false);
                if (answer.Properties?.CorrelationId is { } answered && !string.Equals(answered.ToString(), correlationId, StringComparison.Ordinal))
                {
                    if (stale >= MaxStaleAnswers)
                    {
                        throw ProvisioningException.Malformed(operation, $"{MaxStaleAnswers} answers in a row carried another request's correlation-id");
                    }

                    continue;
                }

                return Interpret(answer, operation);
            }
        }
    }

    internal static DpsReply Interpret(AmqpMessage answer, string operation)
    {
        TimeSpan? retryAfter = AmqpErrors.ReadRetryAfter(answer.ApplicationProperties?.Map);
        // The body's sections, checked and measured first: one section (the usual answer) is read where it lies; several are
        // joined into a buffer of their size.
        int length = 0;
        int sections = 0;
        ArraySegment<byte> only = default;
        foreach (Data data in answer.DataBody ?? [])
        {
            if (data.Value is not ArraySegment<byte> segment)
            {
                throw ProvisioningException.Malformed(operation, "a data section of the answer holds no binary");
            }

            if (length + segment.Count > DpsResponseReader.MaxBodyBytes)
            {
                throw ProvisioningException.Malformed(operation, $"the body is over the {DpsResponseReader.MaxBodyBytes / 1024} KB limit");
            }

            length += segment.Count;
            only = segment;
            sections++;
        }

        if (sections <= 1)
        {
            try
            {
                // The body's own status says whether the operation is final; over AMQP there is no HTTP status beside it.
                return DpsResponseReader.Interpret(HttpStatusCode.OK, only.AsSpan(), retryAfter, challengeAllowed: false, operation);
            }
            finally
            {
                // The received message's own bytes can hold the activation blob.
                CryptographicOperations.ZeroMemory(only.AsSpan());
            }
        }

        byte[] body = ArrayPool<byte>.Shared.Rent(length);
        int joined = 0;
        try
        {
            foreach (Data data in answer.DataBody!)
            {
                var segment = (ArraySegment<byte>)data.Value;
                segment.AsSpan().CopyTo(body.AsSpan(joined));
                joined += segment.Count;
                CryptographicOperations.ZeroMemory(segment.AsSpan());
            }

            return DpsResponseReader.Interpret(HttpStatusCode.OK, body.AsSpan(0, joined), retryAfter, challengeAllowed: false, operation);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(body.AsSpan(0, joined));
            ArrayPool<byte>.Shared.Return(body);
        }
    }

    private static string Capitalize(string text) => char.ToUpperInvariant(text[0]) + text[1..];
}

/// <summary>AMQP failures as <see cref="ProvisioningException"/>s, transient or not as dps-protocol.md §1.7 and §6 say.</summary>
internal static class AmqpErrors
{
    /// <summary>A rejected delivery: <c>error.description</c> holds the DPS error JSON, the status is <c>errorCode / 1000</c>.</summary>
    public static ProvisioningException FromRejection(Rejected rejected, string operation)
    {
        string? description = rejected.Error?.Description;
        TimeSpan? retryAfter = ReadRetryAfter(rejected.Error?.Info);
        byte[] json = description is null ? [] : System.Text.Encoding.UTF8.GetBytes(description);
        int? errorCode = null;
        try
        {
            errorCode = json.Length == 0 ? null : System.Text.Json.JsonSerializer.Deserialize(json, Serialization.DpsJsonContext.Default.DpsErrorWire)?.ErrorCode;
        }
        catch (System.Text.Json.JsonException)
        {
            // Reported below as an error without a code.
        }

        if (errorCode is not (>= 400_000 and < 600_000))
        {
            string condition = rejected.Error?.Condition.Value ?? "(none)";
            return new ProvisioningException(
                $"The provisioning service rejected {operation} over AMQP with condition {condition} and no DPS error code.",
                isTransient: false);
        }

        return DpsResponseReader.ReadError(json, operation, (HttpStatusCode)(errorCode.Value / 1000), retryAfter);
    }

    /// <summary>Whether <paramref name="ex"/> is a failure of the connection, TLS, SASL or AMQP protocol (not a bug).</summary>
    public static bool IsCommunicationFailure(Exception ex) =>
        ex is AmqpException or UnauthorizedAccessException or IOException or System.Net.Sockets.SocketException or System.Net.WebSockets.WebSocketException
            or TimeoutException or ObjectDisposedException or System.Security.Authentication.AuthenticationException or InvalidOperationException
            or HttpRequestException or AggregateException;

    public static ProvisioningException FromFailure(Exception ex, string operation)
    {
        for (Exception? inner = ex; inner is not null; inner = inner.InnerException)
        {
            if (inner is ProvisioningException known)
            {
                return known;
            }
        }

        string what = char.ToUpperInvariant(operation[0]) + operation[1..];
        switch (ex)
        {
            case UnauthorizedAccessException sasl:
                // The SASL outcome code is the message (AMQP 1.0 §5.3.3.6): auth and sys-perm are final.
                bool final = sasl.Message is "Auth" or "SysPerm";
                return new ProvisioningException(
                    $"{what} failed: the provisioning service refused the AMQP SASL authentication (outcome {sasl.Message}): " +
                    (final ? "the ID scope, registration id or credentials were not accepted." : "a temporary failure on its side."),
                    isTransient: !final,
                    statusCode: final ? HttpStatusCode.Unauthorized : HttpStatusCode.ServiceUnavailable,
                    innerException: ex);
            case AmqpException amqp:
                string condition = amqp.Error?.Condition.Value ?? "(none)";
                (bool transient, HttpStatusCode? status) = condition switch
                {
                    "amqp:unauthorized-access" => (false, HttpStatusCode.Unauthorized),
                    "amqp:not-found" => (false, HttpStatusCode.NotFound),
                    "amqp:not-allowed" or "amqp:invalid-field" or "amqp:decode-error" or "amqp:not-implemented" or "amqp:precondition-failed"
                        or "amqp:link:message-size-exceeded" or "amqp:frame-size-too-small" => (false, HttpStatusCode.BadRequest),
                    "amqp:resource-limit-exceeded" or "com.microsoft:server-busy" => (true, HttpStatusCode.TooManyRequests),
                    _ => (true, (HttpStatusCode?)null),
                };
                return new ProvisioningException(
                    $"{what} failed: the AMQP peer reported {condition}" + (amqp.Error?.Description is { Length: > 0 } d ? $" ({Truncate(d)})." : "."),
                    isTransient: transient,
                    statusCode: status,
                    innerException: ex);
            case System.Security.Authentication.AuthenticationException:
                return new ProvisioningException(
                    $"{what} failed: the TLS handshake with the provisioning service failed ({ex.Message}).", isTransient: false, innerException: ex);
            case HttpRequestException or System.Net.WebSockets.WebSocketException when ex.InnerException is System.Security.Authentication.AuthenticationException:
                return new ProvisioningException(
                    $"{what} failed: the TLS handshake with the provisioning service failed ({ex.InnerException.Message}).", isTransient: false, innerException: ex);
            default:
                return new ProvisioningException(
                    $"{what} over AMQP failed: the connection broke ({ex.GetType().Name}: {ex.Message}).", isTransient: true, innerException: ex);
        }
    }

    /// <summary>
    /// Reads <c>Retry-After</c> (the C# SDK's spelling) or <c>retry-after</c> (the C SDK's) in seconds, as an integer or a
    /// string of digits; anything else is ignored.
    /// </summary>
    public static TimeSpan? ReadRetryAfter(AmqpMap? map)
    {
        if (map is null)
        {
            return null;
        }

        foreach (KeyValuePair<MapKey, object> entry in map)
        {
            if (!string.Equals(entry.Key.ToString(), AmqpProvisioningTransport.RetryAfterProperty, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            long? seconds = entry.Value switch
            {
                int i => i,
                long l => l,
                uint u => u,
                ulong ul when ul <= int.MaxValue => (long)ul,
                short s => s,
                ushort us => us,
                string text when text.Length is > 0 and <= 9 && text.All(char.IsAsciiDigit) => long.Parse(text, CultureInfo.InvariantCulture),
                _ => null,
            };
            return seconds is >= 0 and <= 86_400 ? TimeSpan.FromSeconds(seconds.Value) : null;
        }

        return null;
    }

    private static string Truncate(string value) => value.Length <= 200 ? value : value[..200] + "…";
}

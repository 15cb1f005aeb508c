using System.Diagnostics;
using System.Runtime.CompilerServices;

using Microsoft.Extensions.Logging;

using Provisioning.Device.Diagnostics;
using Provisioning.Device.Serialization;
using Provisioning.Device.Transport;

namespace Provisioning.Device;

/// <summary>
/// One registration, state by state: attesting → (TPM: challenged → activated) → registering → polling → assigned,
/// disabled or failed (dps-protocol.md §1.4–§1.6).
/// </summary>
/// <remarks>
/// Every request is retried on transient failure with the server's <c>Retry-After</c> or full-jitter backoff; a failed
/// poll is retried as a poll of the same operation, never as a second registration. Every await observes the caller's
/// token and the overall deadline.
/// </remarks>
internal sealed class RegistrationStateMachine
{
    private readonly IProvisioningTransport _transport;
    private readonly ProvisioningAttestation _attestation;
    private readonly string _idScope;
    private readonly ProvisioningClientOptions _options;
    private readonly ILogger _logger;
    private string _registrationId = "(unknown)";
    private RegistrationState _state;
    private int _attempts;
    private long _deadline = long.MaxValue;

    public RegistrationStateMachine(
        IProvisioningTransport transport, ProvisioningAttestation attestation, string idScope, ProvisioningClientOptions options, ILogger logger)
    {
        _transport = transport;
        _attestation = attestation;
        _idScope = idScope;
        _options = options;
        _logger = logger;
    }

    public async Task<DeviceRegistrationResult> RunAsync(ProvisioningRegistrationRequest request, CancellationToken cancellationToken)
    {
        TimeProvider time = _options.TimeProvider;
        long started = time.GetTimestamp();
        if (_options.RegistrationTimeout != Timeout.InfiniteTimeSpan)
        {
            _deadline = started + (long)(_options.RegistrationTimeout.TotalSeconds * time.TimestampFrequency);
        }

        using Activity? activity = ProvisioningDiagnostics.Source.StartActivity(ProvisioningDiagnostics.RegisterActivityName, ActivityKind.Client);
        using var deadline = Deadline.Start(_options.RegistrationTimeout, time, cancellationToken);
        CancellationToken token = deadline.Token;
        string outcome = "error";
        try
        {
            DeviceRegistrationResult result = await RunStatesAsync(request, token).ConfigureAwait(false);
            outcome = result.Status switch
            {
                ProvisioningRegistrationStatus.Assigned => "assigned",
                ProvisioningRegistrationStatus.Disabled => "disabled",
                _ => "failed",
            };
            return result;
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested && deadline.Token.IsCancellationRequested)
        {
            outcome = "timeout";
            Log.Errored(_logger, _registrationId, _state, "the registration deadline passed");
            throw new ProvisioningException(
                $"The registration did not finish within {_options.RegistrationTimeout} (last state: {_state}).", isTransient: true, innerException: ex);
        }
        catch (OperationCanceledException)
        {
            outcome = "canceled";
            throw;
        }
        catch (ProvisioningException ex)
        {
            Log.Errored(_logger, _registrationId, _state, ex.Message);
            throw;
        }
        finally
        {
            ProvisioningMetrics.RecordRegistration(
                outcome, ProvisioningMetrics.AttestationName(_attestation), ProvisioningMetrics.TransportName(_options.Transport), time.GetElapsedTime(started));
            if (activity is not null)
            {
                activity.SetTag(ProvisioningDiagnostics.RegistrationIdTag, _registrationId);
                activity.SetTag(ProvisioningDiagnostics.OutcomeTag, outcome);
                activity.SetTag(ProvisioningDiagnostics.AttemptsTag, _attempts);
                activity.SetTag(ProvisioningDiagnostics.DurationTag, time.GetElapsedTime(started).TotalMilliseconds);
                activity.SetStatus(outcome is "assigned" or "disabled" or "failed" ? ActivityStatusCode.Ok : ActivityStatusCode.Error);
            }
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<DeviceRegistrationResult> RunStatesAsync(ProvisioningRegistrationRequest request, CancellationToken cancellationToken)
    {
        Enter(RegistrationState.Attesting);
        _registrationId = await _attestation.GetRegistrationIdAsync(cancellationToken).ConfigureAwait(false);
        Log.StateChanged(_logger, _registrationId, _state);
        var context = new DpsRequestContext
        {
            IdScope = _idScope,
            RegistrationId = _registrationId,
            ApiVersion = RegistrationRequestWriter.EffectiveApiVersion(request),
            Body = await RegistrationRequestWriter.WriteAsync(_registrationId, _attestation, request, cancellationToken).ConfigureAwait(false),
        };

        if (!_attestation.RequiresChallenge)
        {
            context.Authorization = await GetAuthorizationAsync(context, cancellationToken).ConfigureAwait(false);
        }

        Enter(RegistrationState.Registering);
        DpsReply reply = await SendWithRetriesAsync(ct => _transport.RegisterAsync(context, ct), cancellationToken).ConfigureAwait(false);
        if (reply.ChallengeKey is { } challenge)
        {
            Enter(RegistrationState.Challenged);
            try
            {
                if (!await _attestation.AnswerChallengeAsync(challenge, cancellationToken).ConfigureAwait(false))
                {
                    throw new ProvisioningException(
                        "The provisioning service sent a TPM challenge, which this attestation cannot answer.",
                        isTransient: false,
                        statusCode: System.Net.HttpStatusCode.Unauthorized);
                }
            }
            finally
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(challenge);
            }

            Enter(RegistrationState.Activated);
            context.Authorization = await GetAuthorizationAsync(context, cancellationToken).ConfigureAwait(false);
            Enter(RegistrationState.Registering);
            reply = await SendWithRetriesAsync(ct => _transport.RegisterAsync(context, ct), cancellationToken).ConfigureAwait(false);
            if (reply.ChallengeKey is { } second)
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(second);
                throw new ProvisioningException(
                    "The provisioning service challenged the registration again after the challenge was answered.",
                    isTransient: false,
                    statusCode: System.Net.HttpStatusCode.Unauthorized);
            }
        }

        DpsOperation operation = reply.Operation!;
        string? polledOperation = null;
        int polls = 0;
        while (!operation.IsFinal)
        {
            if (_state != RegistrationState.Polling)
            {
                Enter(RegistrationState.Polling);
            }

            // Polls of one operation that stays assigning never run faster than a floor that grows (jittered) with each poll:
            // the first poll after Retry-After 0 still goes at once, a server asking for 0 forever cannot make it a storm.
            polls = operation.OperationId == polledOperation ? polls + 1 : 0;
            polledOperation = operation.OperationId;
            ProvisioningRetryPolicy policy = _options.RetryPolicy;
            TimeSpan wait = reply.RetryAfter is { } retryAfter
                ? ServerDelay(retryAfter, "the next status poll")
                : policy.GetPollingDelay(_options.NextRandom());
            TimeSpan floor = policy.GetPollingFloor(polls, _options.NextRandom());
            await Task.Delay(wait > floor ? wait : floor, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
            string operationId = operation.OperationId;
            reply = await SendWithRetriesAsync(ct => _transport.GetOperationStatusAsync(context, operationId, ct), cancellationToken).ConfigureAwait(false);
            operation = reply.Operation ?? throw ProvisioningException.Malformed("the status poll", "a TPM challenge arrived for a status poll");
        }

        return await FinishAsync(operation, request, cancellationToken).ConfigureAwait(false);
    }

    private async Task<DeviceRegistrationResult> FinishAsync(DpsOperation operation, ProvisioningRegistrationRequest request, CancellationToken cancellationToken)
    {
        DeviceRegistrationResult result = DpsResponseReader.ToResult(operation, _registrationId);
        try
        {
            if (operation.Status == ProvisioningRegistrationStatus.Assigned && request.CertificateSigningKey is { } key)
            {
                // §9: the chain is checked against the key before anyone uses or caches it.
                IssuedCertificateValidator.Validate(
                    result.IssuedCertificateChain, key, _registrationId, _options.TimeProvider.GetUtcNow(), _options.IssuedCertificateTrustedRoots);
                result.CertificateSigningKey = key;
            }

            if (operation.Status == ProvisioningRegistrationStatus.Assigned)
            {
                // §1.6: the TPM hub key is activated before the caller can use the result.
                await _attestation.OnAssignedAsync(operation.Credentials!, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            operation.Credentials?.Clear();
        }

        _state = operation.Status switch
        {
            ProvisioningRegistrationStatus.Assigned => RegistrationState.Assigned,
            ProvisioningRegistrationStatus.Disabled => RegistrationState.Disabled,
            _ => RegistrationState.Failed,
        };
        Log.Finished(_logger, _registrationId, _state, _attempts, result.AssignedHub, result.DeviceId);
        return result;
    }

    private ValueTask<string?> GetAuthorizationAsync(DpsRequestContext context, CancellationToken cancellationToken) =>
        _attestation.GetAuthorizationAsync(context.SasResource, _options.TimeProvider.GetUtcNow() + _options.SasTokenTimeToLive, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<DpsReply> SendWithRetriesAsync(Func<CancellationToken, ValueTask<DpsReply>> send, CancellationToken cancellationToken)
    {
        ProvisioningRetryPolicy policy = _options.RetryPolicy;
        for (int retry = 0; ; retry++)
        {
            _attempts++;
            try
            {
                return await send(cancellationToken).ConfigureAwait(false);
            }
            catch (ProvisioningException ex) when (ex.IsTransient && retry < policy.MaxRetries)
            {
                // The server's Retry-After when it sent one, but never less than the jittered backoff: a 429 or 503 storm
                // answering "Retry-After: 0" still backs off.
                TimeSpan backoff = policy.GetBackoffDelay(retry, _options.NextRandom());
                TimeSpan delay = ex.RetryAfter is { } retryAfter && ServerDelay(retryAfter, "a retry", ex) is var server && server > backoff
                    ? server
                    : backoff;
                // The message, not just a status: over MQTT a 503 may be a refused CONNECT, which the message names.
                Log.RetryScheduled(_logger, _registrationId, ex.Message, retry + 1, delay);
                ProvisioningMetrics.RecordRetry(ProvisioningMetrics.AttestationName(_attestation), ProvisioningMetrics.TransportName(_options.Transport));
                await Task.Delay(delay, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The server's wait, capped at <see cref="ProvisioningRetryPolicy.MaxRetryAfter"/>; a wait that reaches past the
    /// registration deadline ends the registration now, saying what the server asked for, instead of a silent wait and a
    /// timeout that does not say why.</summary>
    private TimeSpan ServerDelay(TimeSpan retryAfter, string before, ProvisioningException? cause = null)
    {
        if (_deadline != long.MaxValue)
        {
            TimeProvider time = _options.TimeProvider;
            long now = time.GetTimestamp();
            TimeSpan left = now >= _deadline ? TimeSpan.Zero : TimeSpan.FromSeconds((_deadline - now) / (double)time.TimestampFrequency);
            if (retryAfter > left)
            {
                throw new ProvisioningException(
                    $"The provisioning service asked to wait {Describe(retryAfter)} (Retry-After) before {before}" +
                    (cause is null ? string.Empty : $" after: {cause.Message.TrimEnd('.')}") +
                    $"; only {Describe(left)} of the {Describe(_options.RegistrationTimeout)} registration deadline is left, so the " +
                    "registration stops now. Try again after the wait the service asked for.",
                    isTransient: true,
                    statusCode: cause?.StatusCode,
                    errorCode: cause?.ErrorCode,
                    trackingId: cause?.TrackingId,
                    retryAfter: retryAfter,
                    innerException: cause);
            }
        }

        return _options.RetryPolicy.GetServerDelay(retryAfter);
    }

    /// <summary>"99999 s (27 h 46 min)": the seconds, and hours or minutes when that helps a reader.</summary>
    internal static string Describe(TimeSpan wait)
    {
        string seconds = wait.TotalSeconds.ToString(wait.TotalSeconds >= 10 ? "0" : "0.###", System.Globalization.CultureInfo.InvariantCulture) + " s";
        return wait.TotalHours >= 1 ? $"{seconds} ({(int)wait.TotalHours} h {wait.Minutes} min)"
            : wait.TotalMinutes >= 1 ? $"{seconds} ({(int)wait.TotalMinutes} min {wait.Seconds} s)"
            : seconds;
    }

    private void Enter(RegistrationState state)
    {
        _state = state;
        if (state != RegistrationState.Attesting)
        {
            Log.StateChanged(_logger, _registrationId, state);
        }
    }
}

using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Provisioning.Device.Hub;

/// <summary>
/// The one hand-off from provisioning to a connected hub client. It owns the whole loop: the registration cache (or DPS),
/// then the hub; when the hub refuses the identity, when the cached identity is invalid, or when the hub stays unreachable for
/// <see cref="DeviceConnectorOptions.HubUnreachableTimeout"/>, it goes back to DPS and connects again.
/// </summary>
/// <remarks>
/// <para>A cached identity is never a dead end: an invalid or refused one is removed from the cache, an unreachable cached hub
/// sends the device back to DPS (the entry stays, so a device whose DPS is down too still knows its hub next time). When DPS
/// assigns a hub that then fails, the next round waits a backoff that doubles from <see cref="DeviceConnectorOptions.MinRetryDelay"/>
/// to <see cref="DeviceConnectorOptions.MaxRetryDelay"/> with jitter, so a fleet whose hub is down does not hammer DPS; the same
/// backoff paces transient DPS failures that outlasted the client's own retries (waiting at least the <c>Retry-After</c> DPS
/// asked for, up to <see cref="DeviceConnectorOptions.MaxRetryDelay"/>).</para>
/// <para>The loop ends when a client is connected, when <see cref="DeviceConnectorOptions.MaxAttempts"/> rounds have failed, on a
/// non-transient error (DPS refused the device, answered <c>disabled</c> or <c>failed</c>, or answered something invalid), or
/// when the caller's token fires.</para>
/// <para>A client returned here that is refused later (the device was deleted or disabled while it ran) removes the cache entry
/// in its <see cref="DeviceClientOptions.ReprovisionRequired"/> step, before the application's own hook runs; calling
/// <see cref="ConnectAsync"/> again then registers with DPS.</para>
/// </remarks>
/// <example><code>
/// var connector = new DeviceConnector(provisioningClient, new DeviceConnectorOptions { HubUnreachableTimeout = TimeSpan.FromMinutes(1) });
/// await using DeviceClient hub = await connector.ConnectAsync(cancellationToken);
/// await hub.SendEventAsync(new HubMessage(payload), cancellationToken);
/// </code></example>
public sealed class DeviceConnector
{
    private readonly ProvisioningDeviceClient _provisioning;
    private readonly DeviceConnectorOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates the hand-off over a provisioning client (its cache, transport and attestation are used as they are).</summary>
    /// <param name="provisioning">The provisioning client; owned by the caller, kept alive while connecting.</param>
    /// <param name="options">Options; defaults when null. Read at each <see cref="ConnectAsync"/>.</param>
    public DeviceConnector(ProvisioningDeviceClient provisioning, DeviceConnectorOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(provisioning);
        _provisioning = provisioning;
        _options = options ?? new DeviceConnectorOptions();
        _options.Validate();
        _logger = _options.HubOptions.LoggerFactory?.CreateLogger<DeviceConnector>() ?? NullLogger<DeviceConnector>.Instance;
    }

    /// <summary>Raised (on the connecting flow) after each registration, from the cache or from DPS, before its hub is dialled;
    /// also for a <c>disabled</c> or <c>failed</c> outcome, just before <see cref="ConnectAsync"/> throws for it.</summary>
    public event EventHandler<DeviceRegistrationResult>? Registered;

    /// <summary>Raised (on the connecting flow) each time the connector gives up an identity or a hub and goes back to DPS,
    /// before the backoff wait, if any.</summary>
    public event EventHandler<ReprovisioningEventArgs>? Reprovisioning;

    /// <summary>Registers (from the cache when possible) and connects, going back to DPS as needed, until a client is connected.</summary>
    /// <param name="cancellationToken">Cancels the whole loop.</param>
    /// <returns>An open client; <see cref="DeviceClient.Registration"/> says where its identity came from. Dispose it when done.</returns>
    /// <exception cref="ProvisioningException">DPS refused the device or answered something invalid (non-transient), answered
    /// <c>disabled</c> or <c>failed</c>, or still failed transiently after <see cref="DeviceConnectorOptions.MaxAttempts"/> rounds.</exception>
    /// <exception cref="HubException">The hub refused the connection for a reason a new registration cannot fix (e.g. the protocol
    /// version), or still refused or was unreachable after <see cref="DeviceConnectorOptions.MaxAttempts"/> rounds (then
    /// <see cref="HubException.Refusal"/> or <see cref="HubException.IsTransient"/> says which).</exception>
    public async Task<DeviceClient> ConnectAsync(CancellationToken cancellationToken = default)
    {
        var options = _options;
        options.Validate();
        var template = options.Request ?? new ProvisioningRegistrationRequest();
        var bypassCache = template.BypassCache;
        var failures = 0;
        for (var attempt = 1; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            DeviceRegistrationResult registration;
            try
            {
                registration = await _provisioning.RegisterAsync(WithBypass(template, bypassCache), cancellationToken).ConfigureAwait(false);
            }
            catch (ProvisioningException ex) when (ex.IsTransient && !IsLastAttempt(attempt))
            {
                // DPS failed past the client's own retries (or asked for a wait beyond its deadline): back off, and wait at
                // least what DPS asked for, up to MaxRetryDelay.
                failures++;
                var wait = Backoff(failures);
                if (ex.RetryAfter is { } asked && asked > wait)
                {
                    wait = asked < options.MaxRetryDelay ? asked : options.MaxRetryDelay;
                }

                HubClientLog.RegistrationRetry(_logger, ex.Message, wait);
                await Task.Delay(wait, options.HubOptions.TimeProvider, cancellationToken).ConfigureAwait(false);
                continue;
            }

            Registered?.Invoke(this, registration);
            if (registration.Status != ProvisioningRegistrationStatus.Assigned)
            {
                var detail = registration.ErrorCode is { } code ? string.Create(CultureInfo.InvariantCulture, $" (error {code}: {registration.ErrorMessage})") : string.Empty;
                throw new ProvisioningException($"DPS answered '{registration.Status}' for registration '{registration.RegistrationId}'{detail}: there is no hub to connect to.");
            }

            var (client, failure, reason) = await TryConnectAsync(registration, cancellationToken).ConfigureAwait(false);
            if (client is not null)
            {
                return client;
            }

            if (reason is ReprovisioningReason.HubRefused or ReprovisioningReason.InvalidIdentity)
            {
                await InvalidateAsync(cancellationToken).ConfigureAwait(false);
            }

            if (IsLastAttempt(attempt))
            {
                throw failure!;
            }

            // A cached identity that failed costs no wait: DPS has not been asked yet. A fresh assignment that failed backs off.
            var delay = TimeSpan.Zero;
            if (!registration.IsFromCache)
            {
                failures++;
                delay = Backoff(failures);
            }

            bypassCache = true;
            HubClientLog.Reprovisioning(_logger, registration.DeviceId ?? "(none)", registration.AssignedHub ?? "(none)", reason.ToString(), failure!.Message);
            Reprovisioning?.Invoke(this, new ReprovisioningEventArgs(reason, registration, failure!, attempt, delay));
            if (delay > TimeSpan.Zero)
            {
                await Task.Delay(delay, options.HubOptions.TimeProvider, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task<(DeviceClient? Client, Exception? Failure, ReprovisioningReason Reason)> TryConnectAsync(
        DeviceRegistrationResult registration, CancellationToken cancellationToken)
    {
        DeviceClient client;
        try
        {
            client = DeviceClient.Create(registration, _provisioning.Attestation, _options.HubOptions);
            // A certificate the hub renews is stored in the registration cache (one atomic write) before the client switches to
            // it and retires the replaced key, so a reboot at any point finds a certificate with its key.
            client.StoreRenewedCertificate = async (chain, key, ct) => await _provisioning.UpdateCachedCertificateAsync(chain, key, ct).ConfigureAwait(false);
        }
        catch (ArgumentException ex) when (registration.IsFromCache)
        {
            // The cache held an identity no hub can accept: drop it, ask DPS.
            return (null, ex, ReprovisioningReason.InvalidIdentity);
        }

        client.RefusalHook = (_, token) => InvalidateAsync(token);
        Exception? lastFailure = null;
        client.ConnectionStateChanged += (_, e) =>
        {
            if (e.Exception is not null)
            {
                Volatile.Write(ref lastFailure, e.Exception);
            }
        };
        using var unreachable = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        unreachable.CancelAfter(_options.HubUnreachableTimeout);
        try
        {
            await client.OpenAsync(unreachable.Token).ConfigureAwait(false);
            return (client, null, default);
        }
        catch (HubException ex) when (ex.RequiresReprovisioning)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            return (null, ex, ReprovisioningReason.HubRefused);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            await client.DisposeAsync().ConfigureAwait(false);
            var error = new HubException(
                string.Create(CultureInfo.InvariantCulture,
                    $"The hub {registration.AssignedHub} did not accept a connection from device '{registration.DeviceId}' within {_options.HubUnreachableTimeout.TotalSeconds:0.###} s{LastFailure(Volatile.Read(ref lastFailure))}."),
                0, isTransient: true, ex);
            return (null, error, ReprovisioningReason.HubUnreachable);
        }
        catch
        {
            await client.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The last connection failure in a few words: the messages from the outermost down, without repeats.</summary>
    private static string LastFailure(Exception? failure)
    {
        if (failure is null)
        {
            return string.Empty;
        }

        var parts = new List<string>();
        for (var e = failure; e is not null && parts.Count < 4; e = e.InnerException)
        {
            var text = e.Message.TrimEnd('.');
            if (text.Length > 0 && !parts.Any(p => p.Contains(text, StringComparison.Ordinal)))
            {
                parts.Add(text);
            }
        }

        return "; last failure: " + string.Join(": ", parts);
    }

    private async ValueTask InvalidateAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _provisioning.InvalidateCachedRegistrationAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The next registration bypasses the cache anyway, and overwrites the entry when DPS assigns.
            HubClientLog.HandlerFailed(_logger, ex, "InvalidateCachedRegistrationAsync");
        }
    }

    private bool IsLastAttempt(int attempt) => _options.MaxAttempts is { } max && attempt >= max;

    /// <summary>Doubling from <see cref="DeviceConnectorOptions.MinRetryDelay"/>, capped at <see cref="DeviceConnectorOptions.MaxRetryDelay"/>,
    /// with equal jitter (half fixed, half random).</summary>
    internal TimeSpan Backoff(int failures)
    {
        var exponent = Math.Min(failures - 1, 30);
        var ceiling = Math.Min(_options.MaxRetryDelay.Ticks, _options.MinRetryDelay.Ticks * Math.Pow(2, exponent));
        var jitter = Math.Clamp(_options.HubOptions.Jitter(), 0, 1);
        return TimeSpan.FromTicks((long)((ceiling / 2.0) + (ceiling / 2.0 * jitter)));
    }

    private static ProvisioningRegistrationRequest WithBypass(ProvisioningRegistrationRequest template, bool bypassCache) => new()
    {
        // Everything the caller asked for travels, only the cache choice is the connector's.
        ApiVersion = template.ApiVersion,
        JsonPayload = template.JsonPayload,
        ModelId = template.ModelId,
        CertificateSigningKey = template.CertificateSigningKey,
        BypassCache = bypassCache,
    };
}

/// <summary>Options of a <see cref="DeviceConnector"/>.</summary>
public sealed class DeviceConnectorOptions
{
    /// <summary>The options of every hub client the connector creates (its <see cref="DeviceClientOptions.ReprovisionRequired"/>
    /// still runs, after the connector's own step). Its <see cref="DeviceClientOptions.TimeProvider"/> and
    /// <see cref="DeviceClientOptions.Jitter"/> also drive the connector's waits.</summary>
    public DeviceClientOptions HubOptions { get; set; } = new();

    /// <summary>What to send to DPS (payload, api-version); <see cref="ProvisioningRegistrationRequest.BypassCache"/> applies to
    /// the first round only. Default none.</summary>
    public ProvisioningRegistrationRequest? Request { get; set; }

    /// <summary>How long a hub may stay unreachable (the hub client retrying with backoff meanwhile) before the device goes back
    /// to DPS. Default 60 s.</summary>
    public TimeSpan HubUnreachableTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The first wait after a freshly assigned hub failed, or DPS failed transiently past the client's retries; it
    /// doubles per failed round, with jitter. Default 1 s.</summary>
    public TimeSpan MinRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between rounds. Default 5 minutes.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How many rounds (a registration or cache read, then a connection) to try before the last error is thrown, or
    /// <see langword="null"/> to go on until the caller cancels. Default <see langword="null"/>: a device in the field keeps
    /// trying, with backoff.</summary>
    public int? MaxAttempts { get; set; }

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(HubOptions, nameof(HubOptions));
        HubOptions.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(HubUnreachableTimeout, TimeSpan.Zero, nameof(HubUnreachableTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(MinRetryDelay, TimeSpan.Zero, nameof(MinRetryDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRetryDelay, MinRetryDelay, nameof(MaxRetryDelay));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxRetryDelay, TimeSpan.FromDays(1), nameof(MaxRetryDelay));
        if (MaxAttempts is { } max)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(max, 1, nameof(MaxAttempts));
        }
    }
}

/// <summary>Why a <see cref="DeviceConnector"/> went back to DPS.</summary>
public enum ReprovisioningReason
{
    /// <summary>The hub refused the identity (CONNACK 2, 4 or 5: unknown, bad credentials, not authorized or disabled).</summary>
    HubRefused,

    /// <summary>The cached identity cannot be used with any hub (e.g. a device id the hub client rejects).</summary>
    InvalidIdentity,

    /// <summary>The hub did not accept a connection within <see cref="DeviceConnectorOptions.HubUnreachableTimeout"/>.</summary>
    HubUnreachable,
}

/// <summary>A <see cref="DeviceConnector"/> gave up an identity or a hub and goes back to DPS.</summary>
/// <param name="reason">Why.</param>
/// <param name="registration">The registration given up (from the cache or from DPS).</param>
/// <param name="error">What failed.</param>
/// <param name="attempt">The round that failed, from 1.</param>
/// <param name="delay">The wait before the next registration (zero after a cached identity failed).</param>
public sealed class ReprovisioningEventArgs(ReprovisioningReason reason, DeviceRegistrationResult registration, Exception error, int attempt, TimeSpan delay)
    : EventArgs
{
    /// <summary>Why.</summary>
    public ReprovisioningReason Reason { get; } = reason;

    /// <summary>The registration given up (<see cref="DeviceRegistrationResult.IsFromCache"/> says where it came from).</summary>
    public DeviceRegistrationResult Registration { get; } = registration;

    /// <summary>What failed: the hub's refusal (<see cref="HubException.Refusal"/>), the invalid identity, or the timeout.</summary>
    public Exception Error { get; } = error;

    /// <summary>The round that failed, from 1.</summary>
    public int Attempt { get; } = attempt;

    /// <summary>The wait before the next registration.</summary>
    public TimeSpan Delay { get; } = delay;
}

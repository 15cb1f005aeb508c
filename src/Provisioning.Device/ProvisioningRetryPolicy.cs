namespace Provisioning.Device;

/// <summary>How the client waits between polls and between retries of transient failures.</summary>
/// <remarks>
/// <para>Polls: a server <c>Retry-After</c> (seconds or HTTP date, dps-protocol.md §1.5) is honoured, capped at
/// <see cref="MaxRetryAfter"/>; without one, polls wait <see cref="PollingInterval"/> plus a uniform jitter of up to the same
/// again. Polls of one operation that stays <c>assigning</c> also never run faster than a floor: none before the first poll
/// (so <c>Retry-After: 0</c> then <c>assigned</c> comes back in milliseconds), then <see cref="PollingFloor"/> doubling per poll
/// up to <see cref="MaxPollingFloor"/>, each drawn uniformly in [half, all] of that value. With the defaults a service that
/// answers <c>assigning</c> with <c>Retry-After: 0</c> forever gets 21 to 36 polls a minute, never more than 60.</para>
/// <para>Retries of a transient failure (408, 429, 5xx, network): exponential backoff with "equal jitter", a uniform delay in
/// [c/2, c) where c = min(<see cref="MaxDelay"/>, <see cref="InitialDelay"/> × 2^retry), or the server's <c>Retry-After</c>
/// when it is longer. A throttling storm that says <c>Retry-After: 0</c> still backs off.</para>
/// <para>A <c>Retry-After</c> longer than what is left of <see cref="ProvisioningClientOptions.RegistrationTimeout"/> ends the
/// registration at once with a transient <see cref="ProvisioningException"/> whose message and
/// <see cref="ProvisioningException.RetryAfter"/> say what the server asked for.</para>
/// </remarks>
public sealed class ProvisioningRetryPolicy
{
    /// <summary>How many times one request is retried after a transient failure before the error is thrown. Default 8.</summary>
    public int MaxRetries { get; set; } = 8;

    /// <summary>The backoff ceiling of the first retry. Default 500 ms.</summary>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The cap on any backoff delay. Default 30 s.</summary>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The base wait between status polls when the service sends no <c>Retry-After</c>. Default 500 ms.</summary>
    public TimeSpan PollingInterval { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The longest server <c>Retry-After</c> obeyed; a longer one is shortened to this, so a bad value cannot park the
    /// device for days. Default 10 minutes.
    /// </summary>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The pacing floor of the second poll of an operation that stays <c>assigning</c>; it doubles per poll up to
    /// <see cref="MaxPollingFloor"/>. Default 100 ms.</summary>
    public TimeSpan PollingFloor { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The largest pacing floor between polls of one operation. Default 4 s.</summary>
    public TimeSpan MaxPollingFloor { get; set; } = TimeSpan.FromSeconds(4);

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(PollingFloor, TimeSpan.Zero, nameof(PollingFloor));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxPollingFloor, PollingFloor, nameof(MaxPollingFloor));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxPollingFloor, TimeSpan.FromHours(1), nameof(MaxPollingFloor));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxRetries, nameof(MaxRetries));
        ArgumentOutOfRangeException.ThrowIfLessThan(InitialDelay, TimeSpan.Zero, nameof(InitialDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxDelay, TimeSpan.Zero, nameof(MaxDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(PollingInterval, TimeSpan.Zero, nameof(PollingInterval));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxRetryAfter, TimeSpan.Zero, nameof(MaxRetryAfter));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxRetryAfter, TimeSpan.FromDays(1), nameof(MaxRetryAfter));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxDelay, TimeSpan.FromDays(1), nameof(MaxDelay));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(PollingInterval, TimeSpan.FromHours(1), nameof(PollingInterval));
    }

    /// <summary>The server's wait, capped at <see cref="MaxRetryAfter"/>.</summary>
    internal TimeSpan GetServerDelay(TimeSpan retryAfter) => retryAfter > MaxRetryAfter ? MaxRetryAfter : retryAfter;

    /// <param name="retry">0 for the first retry.</param>
    /// <param name="random">A uniform value in [0, 1).</param>
    internal TimeSpan GetBackoffDelay(int retry, double random)
    {
        double ceiling = Math.Min(MaxDelay.Ticks, InitialDelay.Ticks * Math.Pow(2, Math.Min(retry, 62)));
        return TimeSpan.FromTicks((long)((ceiling / 2) + (ceiling / 2 * random)));
    }

    /// <param name="poll">0 for the first poll of an operation, 1 for the second, and so on.</param>
    /// <param name="random">A uniform value in [0, 1).</param>
    internal TimeSpan GetPollingFloor(int poll, double random)
    {
        if (poll <= 0)
        {
            return TimeSpan.Zero;
        }

        double ceiling = Math.Min(MaxPollingFloor.Ticks, PollingFloor.Ticks * Math.Pow(2, Math.Min(poll - 1, 62)));
        return TimeSpan.FromTicks((long)((ceiling / 2) + (ceiling / 2 * random)));
    }

    /// <param name="random">A uniform value in [0, 1).</param>
    internal TimeSpan GetPollingDelay(double random) =>
        TimeSpan.FromTicks(PollingInterval.Ticks + (long)(PollingInterval.Ticks * random));
}

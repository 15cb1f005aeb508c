namespace Provisioning.Device;

/// <summary>How the client waits between polls and between retries of transient failures.</summary>
/// <remarks>
/// A server <c>Retry-After</c> (seconds or HTTP date, dps-protocol.md §1.5) always wins over these values, on every
/// response. Without one, polls wait <see cref="PollingInterval"/> plus a uniform jitter of up to the same again, and
/// retries use exponential backoff with full jitter: a uniform delay in [0, min(<see cref="MaxDelay"/>,
/// <see cref="InitialDelay"/> × 2^retry)). There is no fixed floor.
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

    internal void Validate()
    {
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
        return TimeSpan.FromTicks((long)(ceiling * random));
    }

    /// <param name="random">A uniform value in [0, 1).</param>
    internal TimeSpan GetPollingDelay(double random) =>
        TimeSpan.FromTicks(PollingInterval.Ticks + (long)(PollingInterval.Ticks * random));
}

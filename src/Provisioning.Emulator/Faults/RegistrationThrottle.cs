namespace Provisioning.Emulator.Faults;

/// <summary>
/// The optional per-unit registration limit of the real service (e.g. 1,000 registrations per minute): a token bucket
/// that refills continuously.
/// </summary>
internal sealed class RegistrationThrottle(int perMinute, TimeProvider time)
{
    private readonly Lock _gate = new();
    private double _tokens = perMinute;
    private long _last = time.GetTimestamp();

    /// <summary>Takes one registration; returns null when allowed, else how long until one is allowed.</summary>
    public TimeSpan? TryTake()
    {
        lock (_gate)
        {
            var now = time.GetTimestamp();
            _tokens = Math.Min(perMinute, _tokens + (time.GetElapsedTime(_last, now).TotalMinutes * perMinute));
            _last = now;
            if (_tokens >= 1)
            {
                _tokens--;
                return null;
            }

            return TimeSpan.FromMinutes((1 - _tokens) / perMinute);
        }
    }
}

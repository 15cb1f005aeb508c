namespace Provisioning.Emulator.Tests.Support;

/// <summary>A clock the test moves by hand (real wall time as the start, so SAS expiry checks stay meaningful).</summary>
internal sealed class ManualClock : TimeProvider
{
    private readonly Lock _gate = new();
    private readonly List<(DateTimeOffset Due, TimerCallback Callback, object? State)> _timers = [];
    private readonly TaskCompletionSource _timerCreated = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private DateTimeOffset _now = DateTimeOffset.UtcNow;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate)
        {
            return _now;
        }
    }

    public Task WaitForTimerAsync() => _timerCreated.Task.WaitAsync(TestContext.Current.CancellationToken);

    public void Advance(TimeSpan by)
    {
        List<(DateTimeOffset, TimerCallback Callback, object? State)> due;
        lock (_gate)
        {
            _now += by;
            due = _timers.Where(t => t.Due <= _now).ToList();
            _timers.RemoveAll(t => t.Due <= _now);
        }

        foreach (var timer in due)
        {
            timer.Callback(timer.State);
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        if (dueTime != Timeout.InfiniteTimeSpan)
        {
            lock (_gate)
            {
                _timers.Add((_now + dueTime, callback, state));
            }

            _timerCreated.TrySetResult();
        }

        return new NoopTimer();
    }

    private sealed class NoopTimer : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

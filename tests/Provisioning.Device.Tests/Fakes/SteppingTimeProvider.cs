using System.Threading.Channels;

using Microsoft.Extensions.Time.Testing;

namespace Provisioning.Device.Tests.Fakes;

/// <summary>
/// A fake clock that moves only when the code under test waits: each timer it creates is reported, and
/// <see cref="RunAsync{T}"/> advances the clock by exactly that timer's due time. Request times recorded against it are
/// then exact sums of the delays the client chose.
/// </summary>
public sealed class SteppingTimeProvider : FakeTimeProvider
{
    private readonly Channel<TimeSpan> _timers = Channel.CreateUnbounded<TimeSpan>();

    public SteppingTimeProvider()
        : base(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero))
    {
    }

    /// <summary>The due times of the timers the client created, in order.</summary>
    public List<TimeSpan> Waits { get; } = [];

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ITimer timer = base.CreateTimer(callback, state, dueTime, period);
        if (dueTime != Timeout.InfiniteTimeSpan)
        {
            _timers.Writer.TryWrite(dueTime);
        }

        return timer;
    }

    /// <summary>Waits for the next timer the client creates (a real-time safety limit of 10 s).</summary>
    public async Task<TimeSpan> NextTimerAsync() => await _timers.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

    public async Task<T> RunAsync<T>(Task<T> work)
    {
        while (true)
        {
            Task<TimeSpan> next = _timers.Reader.ReadAsync().AsTask();
            Task done = await Task.WhenAny(work, next).WaitAsync(TimeSpan.FromSeconds(10));
            if (done == work)
            {
                return await work;
            }

            TimeSpan due = await next;
            Waits.Add(due);
            Advance(due);
        }
    }
}

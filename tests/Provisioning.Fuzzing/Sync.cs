namespace Provisioning.Fuzzing;

/// <summary>The targets drive async product code over in-memory inputs, so it completes synchronously: this takes the result
/// without blocking, and calls anything that would still be waiting a hang.</summary>
internal static class Sync
{
    public static void Complete(ValueTask task)
    {
        if (!task.IsCompleted)
        {
            throw new FuzzInvariantException("The operation did not complete over an in-memory input (it waits for something that never comes).");
        }

        // Completed: this rethrows the operation's exception, if any, without waiting.
        task.GetAwaiter().GetResult();
    }

    public static T Complete<T>(ValueTask<T> task)
    {
        if (!task.IsCompleted)
        {
            throw new FuzzInvariantException("The operation did not complete over an in-memory input (it waits for something that never comes).");
        }

        return task.GetAwaiter().GetResult();
    }
}

/// <summary>A clock whose timers fire at once: the TPM layer's retry back-off (Task.Delay on the TimeProvider) costs nothing, so a
/// fuzzed "retry" response code exercises the retry loop to its bound without waiting.</summary>
internal sealed class ImmediateTimeProvider : TimeProvider
{
    public static readonly ImmediateTimeProvider Instance = new();

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        ArgumentNullException.ThrowIfNull(callback);
        if (dueTime != Timeout.InfiniteTimeSpan)
        {
            callback(state);
        }

        return new FiredTimer();
    }

    private sealed class FiredTimer : ITimer
    {
        public bool Change(TimeSpan dueTime, TimeSpan period) => true;

        public void Dispose()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}

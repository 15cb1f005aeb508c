using System.Collections.Concurrent;

using Microsoft.Extensions.Logging;

namespace Provisioning.Emulator.Tests.Support;

/// <summary>A logger factory that keeps every entry (level, category, message, exception) for assertions.</summary>
internal sealed class CapturingLogs : ILoggerFactory, ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Category, string Message, Exception? Exception)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    /// <summary>Waits (bounded) until an entry matches; false when none did within <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForAsync(Func<(LogLevel Level, string Category, string Message, Exception? Exception), bool> match, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Entries.Any(match))
            {
                return true;
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        return Entries.Any(match);
    }

    private sealed class Logger(CapturingLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Entries.Enqueue((logLevel, category, formatter(state, exception), exception));
    }
}

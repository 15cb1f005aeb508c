using Microsoft.Extensions.Logging;

namespace Provisioning.Samples.FleetSimulator;

/// <summary>Counts the client's retries through its <c>RetryScheduled</c> log event; copies every line when verbose.</summary>
internal sealed class RetryCounter(TextWriter? verbose) : ILoggerFactory
{
    private readonly TextWriter? _verbose = verbose;
    private long _retries;

    public long Retries => Interlocked.Read(ref _retries);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
        // Only this counter listens.
    }

    public void Dispose()
    {
        // Nothing held.
    }

    private sealed class Logger(RetryCounter owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= (owner._verbose is not null ? LogLevel.Debug : LogLevel.Information);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (eventId.Name == "RetryScheduled")
            {
                Interlocked.Increment(ref owner._retries);
            }

            if (owner._verbose is { } output)
            {
                lock (output)
                {
                    output.WriteLine($"[{logLevel}] {category}: {formatter(state, exception)}");
                }
            }
        }
    }
}

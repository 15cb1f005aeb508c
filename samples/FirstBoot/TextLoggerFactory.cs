using Microsoft.Extensions.Logging;

namespace Provisioning.Samples.FirstBoot;

/// <summary>Every log line of the clients, for <c>--verbose</c>.</summary>
internal sealed class TextLoggerFactory(TextWriter output) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName) => new Logger(output, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
        // A fixed destination: providers are not composed here.
    }

    public void Dispose()
    {
        // Nothing held: the writer belongs to the caller.
    }

    private sealed class Logger(TextWriter output, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            output.WriteLine($"  [{logLevel}] {category}: {formatter(state, exception)}");
    }
}

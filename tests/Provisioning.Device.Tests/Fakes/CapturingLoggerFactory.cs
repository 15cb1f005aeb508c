using Microsoft.Extensions.Logging;

namespace Provisioning.Device.Tests.Fakes;

/// <summary>Keeps every log event: its formatted text and each structured value.</summary>
public sealed class CapturingLoggerFactory : ILoggerFactory
{
    private readonly List<string> _lines = [];
    private readonly List<(int EventId, IReadOnlyDictionary<string, object?> Values)> _events = [];

    public IReadOnlyList<(int EventId, IReadOnlyDictionary<string, object?> Values)> Events
    {
        get
        {
            lock (_lines)
            {
                return [.. _events];
            }
        }
    }

    public IReadOnlyList<string> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string values = state is IEnumerable<KeyValuePair<string, object?>> pairs
                ? string.Join(" | ", pairs.Select(p => $"{p.Key}={p.Value}"))
                : string.Empty;
            lock (owner._lines)
            {
                owner._events.Add((eventId.Id, state is IEnumerable<KeyValuePair<string, object?>> kv ? kv.ToDictionary(p => p.Key, p => p.Value) : new Dictionary<string, object?>()));
                owner._lines.Add($"{logLevel} {eventId.Id} {formatter(state, exception)} || {values} || {exception}");
            }
        }
    }
}

using System.Diagnostics;

using Microsoft.Extensions.Logging;

namespace Provisioning.Samples.FirstBoot;

/// <summary>One thing the registration did, as seen from outside the client.</summary>
/// <param name="State">The client's state name (<c>Registering</c>, <c>Challenged</c>, <c>Activated</c>, <c>Polling</c>, …),
/// or null for an HTTP exchange.</param>
/// <param name="Method">The HTTP method of an exchange.</param>
/// <param name="Path">The request path of an exchange (no query).</param>
/// <param name="Status">The HTTP status of an exchange, or null when it failed without one.</param>
/// <param name="Duration">How long the exchange took.</param>
/// <param name="At">When it happened, on the stopwatch of the run.</param>
/// <param name="Retry">For a retry the client scheduled: what failed and when it tries again (the only source of "retrying").</param>
internal sealed record RegistrationEvent(string? State, string? Method, string? Path, int? Status, TimeSpan Duration, TimeSpan At, string? Retry = null);

/// <summary>
/// Watches a registration without any hook in the client: its state transitions through its logger (the
/// <c>StateChanged</c> event of <c>Provisioning.Device</c>, at Debug), and its HTTP exchanges through the
/// <c>System.Net.Http</c> activity source. Neither ever carries a key, a token or a blob.
/// </summary>
internal sealed class RegistrationObserver : ILoggerFactory
{
    private readonly Action<RegistrationEvent> _onEvent;
    private readonly Stopwatch _clock;
    private readonly TextLoggerFactory? _verbose;
    private readonly ActivityListener _http;

    /// <param name="onEvent">Called on the registration's own flow, in order.</param>
    /// <param name="clock">The run's stopwatch.</param>
    /// <param name="verbose">Where to copy every client log line, or null.</param>
    public RegistrationObserver(Action<RegistrationEvent> onEvent, Stopwatch clock, TextWriter? verbose)
    {
        _onEvent = onEvent;
        _clock = clock;
        _verbose = verbose is null ? null : new TextLoggerFactory(verbose);
        _http = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "System.Net.Http" or "Provisioning.Device", // HttpClient, or the client's own HTTP/1.1
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = OnHttpStopped,
        };
        ActivitySource.AddActivityListener(_http);
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
        // Only this observer listens; providers are not composed here.
    }

    public void Dispose() => _http.Dispose();

    private void OnHttpStopped(Activity activity)
    {
        var method = activity.GetTagItem("http.request.method") as string;
        var url = activity.GetTagItem("url.full") as string;
        if (method is null || url is null || !Uri.TryCreate(url, UriKind.Absolute, out var uri))
        {
            return;
        }

        var status = activity.GetTagItem("http.response.status_code") switch
        {
            int code => code,
            string text when int.TryParse(text, out var code) => code,
            _ => (int?)null,
        };
        _onEvent(new RegistrationEvent(null, method, Uri.UnescapeDataString(uri.AbsolutePath), status, activity.Duration, _clock.Elapsed));
    }

    private sealed class Logger(RegistrationObserver owner, string category) : ILogger
    {
        private readonly ILogger? _copy = owner._verbose?.CreateLogger(category);

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) =>
            logLevel >= LogLevel.Debug && (owner._verbose is not null || category.StartsWith("Provisioning.Device", StringComparison.Ordinal));

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            _copy?.Log(logLevel, eventId, state, exception, formatter);
            // The hub client has a StateChanged event of its own: only the provisioning client's states are registration steps.
            if (category.StartsWith("Provisioning.Device.Hub", StringComparison.Ordinal) || state is not IReadOnlyList<KeyValuePair<string, object?>> fields)
            {
                return;
            }

            if (eventId.Name == "StateChanged" && fields.FirstOrDefault(f => f.Key == "State").Value?.ToString() is { } name)
            {
                owner._onEvent(new RegistrationEvent(name, null, null, null, TimeSpan.Zero, owner._clock.Elapsed));
            }
            else if (eventId.Name == "RetryScheduled")
            {
                var value = (string key) => fields.FirstOrDefault(f => f.Key == key).Value;
                var delay = value("Delay") is TimeSpan d ? Narrator.Ms(d) : "?";
                owner._onEvent(new RegistrationEvent(null, null, null, null, TimeSpan.Zero, owner._clock.Elapsed,
                    $"transient failure ({value("Reason")}): retrying (retry {value("Retry")}) in {delay}"));
            }
        }
    }
}

using System.Collections.Concurrent;
using System.Net;

namespace Provisioning.Device.Tests.Fakes;

/// <summary>One request as the fake service saw it.</summary>
public sealed record RecordedRequest(HttpMethod Method, Uri Uri, string? Authorization, string? ContentType, string? Body, DateTimeOffset? At);

/// <summary>A fake DPS: answers requests from a script, in order, and records each one.</summary>
public sealed class ScriptedHttpHandler : HttpMessageHandler
{
    private readonly ConcurrentQueue<Func<RecordedRequest, CancellationToken, Task<HttpResponseMessage>>> _script = new();
    private readonly List<RecordedRequest> _requests = [];

    /// <summary>Stamps each recorded request with this clock's time.</summary>
    public TimeProvider? Clock { get; init; }

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    public ScriptedHttpHandler Then(Func<RecordedRequest, CancellationToken, Task<HttpResponseMessage>> step)
    {
        _script.Enqueue(step);
        return this;
    }

    public ScriptedHttpHandler ThenRespond(HttpStatusCode status, string? json = null, string? retryAfter = null) =>
        Then((_, _) => Task.FromResult(Response(status, json, retryAfter)));

    public ScriptedHttpHandler ThenThrow(Exception exception) => Then((_, _) => Task.FromException<HttpResponseMessage>(exception));

    /// <summary>Never answers; completes only by cancellation.</summary>
    public ScriptedHttpHandler ThenHang(TaskCompletionSource? entered = null) => Then(async (_, ct) =>
    {
        entered?.TrySetResult();
        await Task.Delay(Timeout.Infinite, ct);
        throw new InvalidOperationException("unreachable");
    });

    public static HttpResponseMessage Response(HttpStatusCode status, string? json = null, string? retryAfter = null)
    {
        var response = new HttpResponseMessage(status);
        if (json is not null)
        {
            response.Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json");
        }

        if (retryAfter is not null)
        {
            response.Headers.TryAddWithoutValidation("Retry-After", retryAfter);
        }

        return response;
    }

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        string? body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        string? authorization = request.Headers.TryGetValues("Authorization", out IEnumerable<string>? values) ? string.Join(",", values) : null;
        var recorded = new RecordedRequest(
            request.Method, request.RequestUri!, authorization, request.Content?.Headers.ContentType?.ToString(), body, Clock?.GetUtcNow());
        lock (_requests)
        {
            _requests.Add(recorded);
        }

        if (!_script.TryDequeue(out Func<RecordedRequest, CancellationToken, Task<HttpResponseMessage>>? step))
        {
            throw new InvalidOperationException($"Unscripted request {request.Method} {request.RequestUri}");
        }

        return await step(recorded, cancellationToken);
    }
}

using Microsoft.AspNetCore.Http;

using Provisioning.Emulator.Storage;

namespace Provisioning.Emulator.Portal;

/// <summary>One refused device request, as the portal lists it.</summary>
internal sealed record RegistrationAttempt(DateTimeOffset At, string RegistrationId, string Method, int Status, string Reason);

/// <summary>
/// The device API requests DPS refused lately (HTTPS), so an operator sees a device that tried and failed even when no
/// registration record exists (an EK pasted wrong, an id not enrolled). Bounded: the newest <see cref="Capacity"/> only.
/// </summary>
/// <remarks>A TPM device's first PUT without a SAS is answered 401 with the challenge: that is the protocol, not a refusal,
/// and is not listed.</remarks>
internal sealed class RegistrationAttempts(EmulatorStore store, TimeProvider time)
{
    internal const int Capacity = 100;

    private readonly Lock _gate = new();
    private readonly Queue<RegistrationAttempt> _recent = new();

    public IReadOnlyList<RegistrationAttempt> Snapshot()
    {
        lock (_gate)
        {
            return [.. _recent.Reverse()];
        }
    }

    /// <summary>The outermost middleware of the DPS pipeline: it sees the final status of every device request.</summary>
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        await next(context).ConfigureAwait(false);
        var status = context.Response.StatusCode;
        if (status < 400 || Parse(context.Request.Path.Value) is not { } id)
        {
            return;
        }

        var signed = context.Request.Headers.Authorization.Count > 0;
        store.Enrollments.TryGetValue(id, out var enrollment);
        if (status == 401 && !signed && enrollment?.Attestation?.Type == "tpm")
        {
            return;
        }

        var reason = status switch
        {
            401 when enrollment is null && !store.Groups.IsEmpty => "unauthorized: no individual enrollment, and no group accepted the credential",
            401 when enrollment is null => "unauthorized: this registration id is not enrolled",
            401 => "unauthorized: the credential does not match the enrollment (or the SAS expired)",
            400 => "bad request (api-version, body or registration id)",
            404 => "not found (ID scope or operation)",
            429 => "throttled",
            _ when status >= 500 => "server error (an injected fault?)",
            _ => "refused",
        };
        lock (_gate)
        {
            _recent.Enqueue(new RegistrationAttempt(time.GetUtcNow(), id, context.Request.Method, status, reason));
            while (_recent.Count > Capacity)
            {
                _recent.Dequeue();
            }
        }
    }

    /// <summary>The registration id of <c>/{idScope}/registrations/{id}/register</c> or <c>…/operations/{op}</c>, else null.</summary>
    private static string? Parse(string? path)
    {
        var parts = (path ?? "").Split('/', StringSplitOptions.RemoveEmptyEntries);
        return parts.Length >= 4 && parts[1] == "registrations" && parts[3] is "register" or "operations" && parts[2].Length <= 128 ? parts[2] : null;
    }
}

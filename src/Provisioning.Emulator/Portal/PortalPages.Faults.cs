using System.Globalization;

using Microsoft.AspNetCore.Http;

using Provisioning.Emulator.Faults;

namespace Provisioning.Emulator.Portal;

/// <summary>Fault rules: what the DPS endpoints answer instead of the truth (429, 500, 503, a dropped connection, a delay).</summary>
internal sealed partial class PortalPages
{
    private Task FaultsAsync(HttpContext context, IFormCollection? form, string? error)
    {
        string Value(string name, string fallback) => form is null || !form.ContainsKey(name) ? fallback : form[name].ToString();
        HtmlString Selected(string name, string value, string fallback) => Value(name, fallback) == value ? new HtmlString(" selected") : default;

        var body = new Html();
        body.Add($"<section class=\"card flush\"><h2>Active rules</h2><div data-live=\"/live?region=faults\">{FaultTable()}</div></section>");
        var fields = Html.Of($"""
            <div class="row"><label class="field"><span>Endpoint</span><select name="endpoint">
            <option value="Register"{Selected("endpoint", "Register", "Register")}>Register (PUT …/register)</option>
            <option value="OperationStatus"{Selected("endpoint", "OperationStatus", "Register")}>Operation status (GET …/operations/…)</option>
            <option value="StatusLookup"{Selected("endpoint", "StatusLookup", "Register")}>Status lookup (POST …/registrations/…)</option>
            <option value="Service"{Selected("endpoint", "Service", "Register")}>Service API</option>
            <option value="All"{Selected("endpoint", "All", "Register")}>Every endpoint</option></select></label>
            <label class="field"><span>Transport</span><select name="transport"><option value="All"{Selected("transport", "All", "All")}>HTTPS and MQTT</option>
            <option value="Https"{Selected("transport", "Https", "All")}>HTTPS</option><option value="Mqtt"{Selected("transport", "Mqtt", "All")}>MQTT</option></select></label>
            <label class="field"><span>Answer</span><select name="kind">
            <option value="TooManyRequests"{Selected("kind", "TooManyRequests", "TooManyRequests")}>429 Too Many Requests</option>
            <option value="ServiceUnavailable"{Selected("kind", "ServiceUnavailable", "TooManyRequests")}>503 Service Unavailable</option>
            <option value="InternalServerError"{Selected("kind", "InternalServerError", "TooManyRequests")}>500 Internal Server Error</option>
            <option value="DropConnection"{Selected("kind", "DropConnection", "TooManyRequests")}>Drop the connection</option>
            <option value="Delay"{Selected("kind", "Delay", "TooManyRequests")}>Delay, then answer</option></select></label></div>
            <div class="row tight"><label class="field"><span>After requests</span><input type="number" name="after" min="0" max="1000000" value="{Value("after", "0")}"><small>Matching requests that pass first.</small></label>
            <label class="field"><span>Probability</span><input type="number" name="probability" min="0" max="1" step="0.01" value="{Value("probability", "1")}"><small>0–1, seeded so runs repeat.</small></label>
            <label class="field"><span>At most</span><input type="number" name="max" min="1" max="1000000" value="{Value("max", "")}" placeholder="unlimited"></label>
            <label class="field"><span>Retry-After (s)</span><input type="number" name="retryAfter" min="0" max="3600" value="{Value("retryAfter", "1")}"><small>For 429 and 503.</small></label>
            <label class="field"><span>Delay (s)</span><input type="number" name="delay" min="0" max="300" step="0.1" value="{Value("delay", "1")}"><small>For a delay.</small></label></div>
            <div class="buttons"><button type="submit">Add rule</button></div>
            """);
        body.Add($"<section class=\"card\"><h2>Add a fault rule</h2><p class=\"hint\">Devices see the fault as they would from Azure; the registration state machine should ride it out.</p>{Form("/faults/add", new Html().Add($"{fields}"), "stack")}</section>");
        return WritePageAsync(context, "Fault rules", "/faults", body, "Inject throttling, errors, drops and delays into the DPS device and service APIs.", error: error, status: error is null ? 200 : 400);
    }

    private Html FaultTable()
    {
        var rules = dps.Faults.Snapshot();
        var html = new Html();
        if (rules.Count == 0)
        {
            return html.Add($"<p class=\"empty\">No fault rules: every request is answered normally.</p>");
        }

        html.Add($"<table><thead><tr><th>Endpoint</th><th>Transport</th><th>Answer</th><th>After</th><th>Probability</th><th>At most</th><th>Seen</th><th>Fired</th><th></th></tr></thead><tbody>");
        foreach (var (id, rule, seen, fired) in rules)
        {
            var answer = rule.Kind switch
            {
                FaultKind.TooManyRequests => $"429, Retry-After {rule.RetryAfter.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s",
                FaultKind.ServiceUnavailable => $"503, Retry-After {rule.RetryAfter.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s",
                FaultKind.InternalServerError => "500",
                FaultKind.DropConnection => "drop the connection",
                _ => $"delay {rule.Delay.TotalSeconds.ToString(CultureInfo.InvariantCulture)} s",
            };
            html.Add($"""
                <tr data-key="{id}"><td>{rule.Endpoint.ToString()}</td><td>{rule.Transport.ToString()}</td><td>{answer}</td><td>{rule.AfterRequests}</td>
                <td>{rule.Probability.ToString("0.##", CultureInfo.InvariantCulture)}</td><td>{(rule.MaxFaults is { } max ? max.ToString(CultureInfo.InvariantCulture) : "∞")}</td>
                <td>{seen}</td><td>{fired}</td><td class="actions">{ButtonForm("/faults/remove", "Remove", "danger small", null, ("rule", id.ToString(CultureInfo.InvariantCulture)))}</td></tr>
                """);
        }

        html.Add($"</tbody></table><div class=\"more\">{ButtonForm("/faults/clear", "Remove every rule", "quiet small", "Remove every fault rule?")}</div>");
        return html;
    }

    private async Task AddFaultAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var invariant = CultureInfo.InvariantCulture;
        if (!Enum.TryParse<DpsEndpoint>(form["endpoint"], out var endpoint) || !Enum.IsDefined(endpoint) || endpoint == DpsEndpoint.None
            || !Enum.TryParse<DpsTransport>(form["transport"], out var transport) || !Enum.IsDefined(transport) || transport == DpsTransport.None
            || !Enum.TryParse<FaultKind>(form["kind"], out var kind) || !Enum.IsDefined(kind))
        {
            await FaultsAsync(context, form, "Choose an endpoint, a transport and an answer.").ConfigureAwait(false);
            return;
        }

        var after = int.TryParse(form["after"], NumberStyles.None, invariant, out var a) && a <= 1_000_000 ? a : -1;
        var probability = double.TryParse(form["probability"], NumberStyles.Float, invariant, out var p) && p is >= 0 and <= 1 ? p : -1;
        int? max = form["max"].ToString() is { Length: > 0 } m ? (int.TryParse(m, NumberStyles.None, invariant, out var mv) && mv is > 0 and <= 1_000_000 ? mv : -1) : null;
        var retryAfter = int.TryParse(form["retryAfter"], NumberStyles.None, invariant, out var r) && r <= 3600 ? r : -1;
        var delay = double.TryParse(form["delay"], NumberStyles.Float, invariant, out var d) && d is >= 0 and <= 300 ? d : -1;
        if (after < 0 || probability < 0 || max is -1 || retryAfter < 0 || delay < 0)
        {
            await FaultsAsync(context, form, "After is 0–1,000,000, probability 0–1, at most 1–1,000,000 (or empty), Retry-After 0–3,600 s, delay 0–300 s.").ConfigureAwait(false);
            return;
        }

        dps.Faults.Add(new FaultRule
        {
            Endpoint = endpoint,
            Transport = transport,
            Kind = kind,
            AfterRequests = after,
            Probability = probability,
            MaxFaults = max,
            RetryAfter = TimeSpan.FromSeconds(retryAfter),
            Delay = TimeSpan.FromSeconds(delay),
        });
        await RedirectAsync(context, "/faults", "Fault rule added.").ConfigureAwait(false);
    }

    private async Task RemoveFaultAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var removed = long.TryParse(form["rule"], NumberStyles.None, CultureInfo.InvariantCulture, out var id) && dps.Faults.Remove(id);
        await RedirectAsync(context, "/faults", removed ? "Fault rule removed." : "That rule was already gone.").ConfigureAwait(false);
    }

    private async Task ClearFaultsAsync(HttpContext context)
    {
        await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        dps.Faults.Clear();
        await RedirectAsync(context, "/faults", "Every fault rule removed.").ConfigureAwait(false);
    }
}

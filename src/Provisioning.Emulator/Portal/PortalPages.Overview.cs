using Microsoft.AspNetCore.Http;

namespace Provisioning.Emulator.Portal;

/// <summary>The overview: ID scope, endpoints, hubs, counts, and how to boot a device against this emulator.</summary>
internal sealed partial class PortalPages
{
    private Task OverviewAsync(HttpContext context)
    {
        var show = context.Request.Query["show"] == "secrets";
        var body = new Html();
        body.Add($"<div data-live=\"/live?region=stats\">{Stats()}</div>");
        body.Add($"""
            <div class="grid two"><section class="card"><div class="split"><h2>Endpoints</h2>{(show ? Html.Of($"<a class=\"button quiet small\" href=\"/\">Hide keys</a>") : Html.Of($"<a class=\"button quiet small\" href=\"/?show=secrets\">Show keys</a>"))}</div><dl class="facts">
            <dt>ID scope</dt><dd><code>{dps.IdScope}</code></dd>
            <dt>Global endpoint</dt><dd><code>{dps.GlobalEndpoint.ToString()}</code></dd>
            <dt>DPS over MQTT</dt><dd>{Code(dps.MqttEndpoint)}</dd>
            <dt>DPS over WebSockets</dt><dd>{Code(dps.WebSocketEndpoint?.ToString())}</dd>
            <dt>Service connection</dt><dd>{ServiceConnection(show)}</dd>
            <dt>CA certificate</dt><dd>{Code(dps.CertificateAuthority.CertificatePemPath ?? "in memory")}</dd>
            <dt>emulator.json</dt><dd>{Code(infoFile ?? "not written (in-memory emulator)")}</dd>
            </dl></section>
            """);
        body.Add($"""
            <section class="card"><h2>Boot a TPM device against this emulator</h2><p class="hint">The operator's first boot, step by step (the README's TPM walk-through).</p>
            <ol class="steps">
            <li>Read the device's registration id and endorsement key:<pre class="light">dotnet run --project samples/TpmDeviceProvision -- --tpm &lt;spec&gt;</pre></li>
            <li><a href="/enrollments#add">Add an individual enrollment</a>: mechanism TPM, paste the <b>Endorsement Key</b> (and the <b>Registration Id</b>) as printed.</li>
            <li>Boot the device, with no <code>--enroll</code>:<pre class="light">dotnet run --project samples/FirstBoot -- --tpm &lt;spec&gt; --emulator {infoFile ?? "<data>/emulator.json"}</pre></li>
            <li>Watch it on <a href="/registrations">Registrations</a> and its telemetry on <a href="/hubs">IoT hubs</a>.</li>
            </ol></section></div>
            """);
        body.Add($"<section class=\"card flush\"><h2>Linked IoT hubs</h2><div data-live=\"/live?region=hubs\">{HubTable()}</div></section>");
        return WritePageAsync(context, "Overview", "/", body, "A local Device Provisioning Service with its linked IoT hubs.");
    }

    private Html Stats()
    {
        var registrations = store.Registrations.Values.ToList();
        var assigned = registrations.Count(r => r.Status == "assigned");
        var failed = registrations.Count(r => r.Status == "failed");
        var devices = store.HubDevices.Count;
        var connected = dps.IotHubs.Sum(h => store.HubDevices.Values.Count(d => string.Equals(d.HubHostName, h.HubHostName, StringComparison.OrdinalIgnoreCase) && h.IsConnected(d.DeviceId)));
        var html = new Html();
        html.Add($"""
            <div class="stats">
            <a class="stat" href="/enrollments"><div class="n">{store.Enrollments.Count}</div><div class="l">individual enrollments</div></a>
            <a class="stat" href="/groups"><div class="n">{store.Groups.Count}</div><div class="l">enrollment groups</div></a>
            <a class="stat" href="/registrations"><div class="n">{assigned}</div><div class="l">registrations assigned{(failed > 0 ? Html.Of($" · <span class=\"err\">{failed} failed</span>") : default)}</div></a>
            <a class="stat" href="/hubs"><div class="n">{connected}<span class="muted"> / {devices}</span></div><div class="l">hub devices connected</div></a>
            <a class="stat" href="/faults"><div class="n">{dps.Faults.Snapshot().Count}</div><div class="l">fault rules</div></a>
            </div>
            """);
        return html;
    }

    private HtmlString ServiceConnection(bool show)
    {
        if (show)
        {
            return Html.Of($"<code>{dps.ServiceConnectionString}</code>");
        }

        var key = dps.ServiceConnectionString.IndexOf("SharedAccessKey=", StringComparison.Ordinal);
        return key < 0 ? Masked(dps.ServiceConnectionString, false)
            : Html.Of($"<code>{dps.ServiceConnectionString[..(key + "SharedAccessKey=".Length)]}</code>{Masked("", false)}");
    }

    private static HtmlString Code(string? text) => text is null ? new HtmlString("<span class=\"muted\">off</span>") : Html.Of($"<code>{text}</code>");
}

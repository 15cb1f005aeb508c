using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;

using Microsoft.AspNetCore.Http;

using Provisioning.Emulator.Hubs;

namespace Provisioning.Emulator.Portal;

/// <summary>The linked hubs: devices and their connection state, telemetry arriving live, cloud-to-device messages, direct
/// methods and desired properties.</summary>
internal sealed partial class PortalPages
{
    private const int RecentMessages = 50;

    /// <summary>IoT Hub's limit on a cloud-to-device message.</summary>
    private const int MaxCloudToDeviceBytes = 64 * 1024;
    private static readonly UTF8Encoding StrictUtf8 = new(false, true);

    private EmulatedIotHub? FindHub(Microsoft.Extensions.Primitives.StringValues name) =>
        dps.IotHubs.FirstOrDefault(h => string.Equals(h.HubHostName, name.ToString(), StringComparison.OrdinalIgnoreCase));

    /// <summary>The hub and device a device form names, or null when either does not exist (an id typed into a crafted form).</summary>
    private async Task<(EmulatedIotHub Hub, string Id)?> FormDeviceAsync(IFormCollection form, CancellationToken cancellationToken)
    {
        var id = form["id"].ToString();
        return FindHub(form["hub"]) is { } hub && id.Length is > 0 and <= 128
            && await dps.HubRegistry.FindAsync(hub.HubHostName, id, cancellationToken).ConfigureAwait(false) is not null
            ? (hub, id) : null;
    }

    private List<HubDevice> DevicesOf(EmulatedIotHub hub) => store.HubDevices.Values
        .Where(d => string.Equals(d.HubHostName, hub.HubHostName, StringComparison.OrdinalIgnoreCase))
        .OrderBy(d => d.DeviceId, StringComparer.Ordinal).ToList();

    private Task HubsAsync(HttpContext context)
    {
        var body = new Html().Add($"<section class=\"card flush\"><div data-live=\"/live?region=hubs\">{HubTable()}</div></section>");
        return WritePageAsync(context, "IoT hubs", "/hubs", body, "The hubs linked to this DPS, served in this process over MQTT (TLS, from the emulator CA).");
    }

    private Html HubTable()
    {
        var html = new Html().Add($"<table><thead><tr><th>Hub</th><th>Region</th><th>MQTT</th><th>WebSockets</th><th>Devices</th><th>Connected</th><th>Messages</th></tr></thead><tbody>");
        foreach (var hub in dps.IotHubs)
        {
            var linked = dps.Hubs.FirstOrDefault(h => string.Equals(h.HostName, hub.HubHostName, StringComparison.OrdinalIgnoreCase));
            var devices = DevicesOf(hub);
            html.Add($"""
                <tr data-key="{hub.HubHostName}"><td><a href="{Link("/hubs/hub", ("hub", hub.HubHostName))}"><code>{hub.HubHostName}</code></a></td>
                <td>{linked?.Region ?? "—"}</td><td><code>{hub.MqttAddress}</code></td><td>{Code(linked?.WebSocketAddress)}</td>
                <td>{devices.Count}</td><td>{devices.Count(d => hub.IsConnected(d.DeviceId))}</td><td>{devices.Sum(d => hub.GetTelemetryCount(d.DeviceId))}</td></tr>
                """);
        }

        return html.Add($"</tbody></table>");
    }

    private Task HubAsync(HttpContext context)
    {
        if (FindHub(context.Request.Query["hub"]) is not { } hub)
        {
            return NotFoundAsync(context);
        }

        var body = new Html();
        body.Add($"<p class=\"crumbs\"><a href=\"/hubs\">IoT hubs</a> / <code>{hub.HubHostName}</code></p>");
        body.Add($"<section class=\"card flush\"><h2>Devices</h2><div data-live=\"{Link("/live", ("region", "hub-devices"), ("hub", hub.HubHostName))}\">{HubDeviceTable(hub)}</div></section>");
        body.Add($"<section class=\"card flush\"><h2>Recent telemetry</h2><div data-live=\"{Link("/live", ("region", "hub-telemetry"), ("hub", hub.HubHostName))}\">{HubTelemetry(hub)}</div></section>");
        return WritePageAsync(context, hub.HubHostName, "/hubs", body, $"MQTT at {hub.MqttAddress}. Devices appear as DPS assigns them; messages as they arrive.");
    }

    private Html HubDeviceTable(EmulatedIotHub hub)
    {
        var html = new Html();
        var devices = DevicesOf(hub);
        if (devices.Count == 0)
        {
            return html.Add($"<p class=\"empty\">No device has been assigned to this hub yet.</p>");
        }

        html.Add($"<table><thead><tr><th>Device ID</th><th>Connection</th><th>Authentication</th><th>Enabled</th><th>Connects</th><th>Messages</th><th>C2D queued</th></tr></thead><tbody>");
        foreach (var d in devices.Take(MaxRows))
        {
            html.Add($"""
                <tr data-key="{d.DeviceId}"><td class="id"><a href="{Link("/hubs/device", ("hub", hub.HubHostName), ("id", d.DeviceId))}"><code>{d.DeviceId}</code></a></td>
                <td class="nowrap">{Connection(hub, d.DeviceId)}</td><td>{KindName(d.Kind)}</td><td>{(d.Enabled ? Badge("enabled", "ok") : Badge("disabled", "off"))}</td>
                <td>{hub.GetConnectionCount(d.DeviceId)}</td><td>{hub.GetTelemetryCount(d.DeviceId)}</td><td>{hub.GetCloudToDeviceQueueLength(d.DeviceId)}</td></tr>
                """);
        }

        return html.Add($"</tbody></table>{More(devices.Count, MaxRows, "devices")}");
    }

    private static HtmlString Connection(EmulatedIotHub hub, string deviceId) => hub.IsConnected(deviceId)
        ? Html.Of($"<span class=\"badge ok dotted\">connected</span>")
        : Html.Of($"<span class=\"badge off dotted\">disconnected</span>");

    private static string KindName(HubCredentialKind kind) => kind switch
    {
        HubCredentialKind.Tpm => "TPM (SAS signed in the TPM)",
        HubCredentialKind.SymmetricKey => "symmetric key (SAS)",
        HubCredentialKind.CertificateAuthority => "X.509 certificate from the emulator's CA",
        _ => "X.509 certificate",
    };

    private Html HubTelemetry(EmulatedIotHub hub)
    {
        var messages = DevicesOf(hub).Take(MaxRows)
            .Where(d => hub.GetTelemetryCount(d.DeviceId) > 0)
            .SelectMany(d => Recent(hub, d.DeviceId))
            .OrderByDescending(m => m.EnqueuedAt).Take(RecentMessages).ToList();
        return TelemetryTable(hub, messages, showDevice: true);
    }

    private static IEnumerable<HubTelemetryMessage> Recent(EmulatedIotHub hub, string deviceId)
    {
        var all = hub.GetTelemetry(deviceId);
        return all.Skip(Math.Max(0, all.Count - RecentMessages));
    }

    private static Html TelemetryTable(EmulatedIotHub hub, List<HubTelemetryMessage> messages, bool showDevice)
    {
        var html = new Html();
        if (messages.Count == 0)
        {
            return html.Add($"<p class=\"empty\">No telemetry yet. Messages appear here as they arrive.</p>");
        }

        html.Add($"<table class=\"telemetry\"><thead><tr><th>Received</th>{(showDevice ? new HtmlString("<th>Device</th>") : default)}<th>Body</th><th>Properties</th></tr></thead><tbody>");
        foreach (var m in messages)
        {
            var properties = m.Properties.Concat(m.SystemProperties).Select(p => $"{p.Key}={p.Value}");
            html.Add($"""
                <tr data-key="{m.DeviceId}:{m.EnqueuedAt.UtcTicks}:{m.MessageId}"><td class="nowrap"><time datetime="{m.EnqueuedAt.ToString("o", CultureInfo.InvariantCulture)}">{m.EnqueuedAt.UtcDateTime.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)}</time></td>
                {(showDevice ? Html.Of($"<td class=\"id\"><a href=\"{Link("/hubs/device", ("hub", hub.HubHostName), ("id", m.DeviceId))}\"><code>{m.DeviceId}</code></a></td>") : default)}
                <td class="body">{BodyText(m.Body.Span)}</td><td class="kv">{string.Join(" · ", properties)}</td></tr>
                """);
        }

        return html.Add($"</tbody></table>");
    }

    /// <summary>The body as text when it is UTF-8 without control characters (cut at 1,000 characters), else hex (cut at 256 bytes).</summary>
    private static string BodyText(ReadOnlySpan<byte> body)
    {
        try
        {
            var text = StrictUtf8.GetString(body);
            if (!text.Any(c => char.IsControl(c) && c is not ('\n' or '\r' or '\t')))
            {
                return text.Length > 1000 ? text[..1000] + "…" : text;
            }
        }
        catch (DecoderFallbackException)
        {
        }

        return $"0x{Convert.ToHexStringLower(body[..Math.Min(body.Length, 256)])}{(body.Length > 256 ? "…" : "")} ({body.Length} bytes)";
    }

    private async Task DeviceAsync(HttpContext context, string? error, Html? result)
    {
        // A POST comes back here with its form (to show the error next to what was typed); a GET reads the query only.
        var posted = HttpMethods.IsPost(context.Request.Method);
        var query = posted ? null : context.Request.Query;
        var form = posted ? await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false) : null;
        var hubName = form?["hub"] ?? query!["hub"];
        var id = (form?["id"] ?? query!["id"]).ToString();
        if (FindHub(hubName) is not { } hub || await dps.HubRegistry.FindAsync(hub.HubHostName, id, context.RequestAborted).ConfigureAwait(false) is not { } device)
        {
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }

        var twin = await hub.GetTwinAsync(id, context.RequestAborted).ConfigureAwait(false);
        var desired = JsonNode.Parse(twin.DesiredJson) as JsonObject ?? [];
        desired.Remove("$version");
        string Value(string name, string fallback) => form is null || !form.ContainsKey(name) ? fallback : form[name].ToString();
        var hidden = Html.Of($"<input type=\"hidden\" name=\"hub\" value=\"{hub.HubHostName}\"><input type=\"hidden\" name=\"id\" value=\"{id}\">");

        var body = new Html();
        body.Add($"<p class=\"crumbs\"><a href=\"/hubs\">IoT hubs</a> / <a href=\"{Link("/hubs/hub", ("hub", hub.HubHostName))}\"><code>{hub.HubHostName}</code></a> / <code>{id}</code></p>");
        body.Add($"""
            <div class="grid two"><section class="card"><div class="split"><h2>Device</h2>
            {ButtonForm("/hubs/enabled", device.Enabled ? "Disable" : "Enable", device.Enabled ? "danger small" : "quiet small", device.Enabled ? "Disable this device? Its connection is dropped and refused until enabled again." : null, ("hub", hub.HubHostName), ("id", id), ("enabled", device.Enabled ? "false" : "true"))}</div>
            <div data-live="{Link("/live", ("region", "device-state"), ("hub", hub.HubHostName), ("id", id))}">{DeviceState(hub, id)}</div></section>
            <section class="card"><h2>Twin</h2>{Form("/hubs/twin", Html.Of($"""
                {hidden}<label class="field"><span>Desired properties</span><textarea class="mono" name="desired" rows="7" spellcheck="false">{Value("desired", PortalForms.Pretty(desired.ToJsonString()))}</textarea>
                <small>Edit and save: the difference is sent to the device as a desired-properties patch (version {twin.DesiredVersion}).</small></label>
                <div class="buttons"><button type="submit">Save desired properties</button></div>
                """), "stack")}
            <div class="field"><span>Reported properties <span class="muted">(version {twin.ReportedVersion})</span></span><pre class="light">{PortalForms.Pretty(twin.ReportedJson)}</pre></div></section></div>
            """);
        body.Add($"<section class=\"card flush\"><h2>Telemetry</h2><div data-live=\"{Link("/live", ("region", "device-telemetry"), ("hub", hub.HubHostName), ("id", id))}\">{DeviceTelemetry(hub, id)}</div></section>");
        if (result is not null)
        {
            body.Add($"<section class=\"card\" id=\"result\"><h2>Result</h2>{result}</section>");
        }

        body.Add($"""
            <div class="grid two"><section class="card"><h2>Send a cloud-to-device message</h2>{Form("/hubs/c2d", Html.Of($"""
                {hidden}<label class="field"><span>Body</span><textarea class="mono" name="body" rows="3" spellcheck="false">{Value("body", "{\"command\":\"blink\"}")}</textarea></label>
                <label class="field"><span>Properties</span><input type="text" class="mono" name="properties" value="{Value("properties", "")}" placeholder="priority=high; source=portal"><small>Optional <code>name=value</code> pairs separated by ';'.</small></label>
                <div class="buttons"><button type="submit">Send message</button><span class="hint">Queued while the device is offline, delivered when it subscribes.</span></div>
                """), "stack")}</section>
            <section class="card"><h2>Invoke a direct method</h2>{Form("/hubs/method", Html.Of($"""
                {hidden}<div class="row"><label class="field"><span>Method name</span><input type="text" name="method" value="{Value("method", "reboot")}" spellcheck="false"></label>
                <label class="field"><span>Timeout (s)</span><input type="number" name="timeout" min="1" max="300" value="{Value("timeout", "30")}"></label></div>
                <label class="field"><span>Payload</span><textarea class="mono" name="payload" rows="3" spellcheck="false">{Value("payload", "{}")}</textarea></label>
                <div class="buttons"><button type="submit">Invoke method</button></div>
                """), "stack")}</section></div>
            """);
        await WritePageAsync(context, id, "/hubs", body, $"A device in {hub.HubHostName}.", error, error is null ? 200 : 400).ConfigureAwait(false);
    }

    private Html DeviceState(EmulatedIotHub hub, string deviceId)
    {
        var device = store.HubDevices.GetValueOrDefault(Storage.EmulatorStore.HubKey(hub.HubHostName, deviceId));
        return new Html().Add($"""
            <dl class="facts"><dt>Hub</dt><dd><code>{hub.HubHostName}</code></dd><dt>Device ID</dt><dd><code>{deviceId}</code></dd>
            <dt>Connection</dt><dd>{Connection(hub, deviceId)}</dd><dt>Authentication</dt><dd>{(device is null ? "—" : KindName(device.Kind))}</dd>
            <dt>Enabled</dt><dd>{(device?.Enabled == true ? Badge("enabled", "ok") : Badge("disabled", "off"))}</dd>
            <dt>Connects</dt><dd>{hub.GetConnectionCount(deviceId)}</dd><dt>Messages</dt><dd>{hub.GetTelemetryCount(deviceId)}</dd>
            <dt>C2D queued</dt><dd>{hub.GetCloudToDeviceQueueLength(deviceId)}</dd></dl>
            """);
    }

    private static Html DeviceTelemetry(EmulatedIotHub hub, string deviceId) =>
        TelemetryTable(hub, [.. Recent(hub, deviceId).Reverse()], showDevice: false);

    private async Task SendCloudToDeviceAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        if (await FormDeviceAsync(form, context.RequestAborted).ConfigureAwait(false) is not ({ } hub, { } id))
        {
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }

        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in form["properties"].ToString().Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = pair.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                await DeviceAsync(context, $"'{pair}' is not name=value.", null).ConfigureAwait(false);
                return;
            }

            properties[pair[..eq].Trim()] = pair[(eq + 1)..].Trim();
        }

        var bytes = Encoding.UTF8.GetBytes(form["body"].ToString());
        if (bytes.Length > MaxCloudToDeviceBytes)
        {
            await DeviceAsync(context, $"A cloud-to-device message is at most {MaxCloudToDeviceBytes / 1024} KB.", null).ConfigureAwait(false);
            return;
        }

        try
        {
            var messageId = await hub.EnqueueCloudToDeviceAsync(id, new HubCloudMessage(bytes) { Properties = properties },
                context.RequestAborted).ConfigureAwait(false);
            await RedirectAsync(context, "/hubs/device", $"Message {messageId} queued for '{id}'{(hub.IsConnected(id) ? "" : " (offline: delivered when it connects)")}.", ("hub", hub.HubHostName), ("id", id)).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is HubCloudToDeviceException or ArgumentException)
        {
            await DeviceAsync(context, ex.Message, null).ConfigureAwait(false);
        }
    }

    private async Task InvokeMethodAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        if (await FormDeviceAsync(form, context.RequestAborted).ConfigureAwait(false) is not ({ } hub, { } id))
        {
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }

        var method = form["method"].ToString().Trim();
        var payloadText = form["payload"].ToString() is { Length: > 0 } p ? p : "null";
        if (method.Length is 0 or > 100)
        {
            await DeviceAsync(context, "A method name is 1–100 characters.", null).ConfigureAwait(false);
            return;
        }

        try
        {
            JsonNode.Parse(payloadText);
        }
        catch (System.Text.Json.JsonException ex)
        {
            await DeviceAsync(context, $"The payload is not JSON: {ex.Message}", null).ConfigureAwait(false);
            return;
        }

        var seconds = int.TryParse(form["timeout"], NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? Math.Clamp(s, 1, 300) : 30;
        var answer = await hub.InvokeMethodAsync(id, method, payloadText, TimeSpan.FromSeconds(seconds), context.RequestAborted).ConfigureAwait(false);
        var result = new Html().Add($"<p><b>{method}</b> answered {(answer.Status is >= 200 and < 300 ? Badge(answer.Status.ToString(CultureInfo.InvariantCulture), "ok") : Badge(answer.Status.ToString(CultureInfo.InvariantCulture), "bad"))}</p><pre class=\"light\">{PortalForms.Pretty(answer.Payload)}</pre>");
        await DeviceAsync(context, null, result).ConfigureAwait(false);
    }

    private async Task UpdateTwinAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        if (await FormDeviceAsync(form, context.RequestAborted).ConfigureAwait(false) is not ({ } hub, { } id))
        {
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }

        var wanted = PortalForms.ParseObject(form["desired"], "The desired properties", out var error) ?? (error is null ? [] : null);
        if (wanted is null)
        {
            await DeviceAsync(context, error, null).ConfigureAwait(false);
            return;
        }

        var current = JsonNode.Parse((await hub.GetTwinAsync(id, context.RequestAborted).ConfigureAwait(false)).DesiredJson) as JsonObject ?? [];
        var patch = PortalForms.Diff(current, wanted);
        if (patch.Count == 0)
        {
            await RedirectAsync(context, "/hubs/device", "Nothing changed.", ("hub", hub.HubHostName), ("id", id)).ConfigureAwait(false);
            return;
        }

        long version;
        try
        {
            version = await hub.UpdateDesiredAsync(id, patch.ToJsonString(), context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Text.Json.JsonException or ArgumentException or InvalidOperationException)
        {
            await DeviceAsync(context, $"The hub refused the desired properties: {ex.Message}", null).ConfigureAwait(false);
            return;
        }

        await RedirectAsync(context, "/hubs/device", $"Desired properties saved (version {version}){(hub.IsConnected(id) ? ", patch sent to the device" : "; the device reads them when it connects")}.", ("hub", hub.HubHostName), ("id", id)).ConfigureAwait(false);
    }

    private async Task SetDeviceEnabledAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        if (await FormDeviceAsync(form, context.RequestAborted).ConfigureAwait(false) is not ({ } hub, { } id))
        {
            await NotFoundAsync(context).ConfigureAwait(false);
            return;
        }

        var enabled = form["enabled"] == "true";
        try
        {
            await hub.SetDeviceEnabledAsync(id, enabled, context.RequestAborted).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex)
        {
            await DeviceAsync(context, ex.Message, null).ConfigureAwait(false);
            return;
        }

        await RedirectAsync(context, "/hubs/device", $"'{id}' is {(enabled ? "enabled" : "disabled")}.", ("hub", hub.HubHostName), ("id", id)).ConfigureAwait(false);
    }
}

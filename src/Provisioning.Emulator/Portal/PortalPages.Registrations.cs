using Microsoft.AspNetCore.Http;

using Provisioning.Emulator.Json;
using Provisioning.Emulator.Storage;

namespace Provisioning.Emulator.Portal;

/// <summary>Registrations: status, hub, device id, last attempt, last error; delete (the device registers afresh).</summary>
internal sealed partial class PortalPages
{
    private Task RegistrationsAsync(HttpContext context)
    {
        var id = context.Request.Query["id"].ToString() is { Length: > 0 } only ? only : null;
        var body = new Html();
        if (id is not null)
        {
            body.Add($"<p class=\"crumbs\"><a href=\"/registrations\">All registrations</a> / <code>{id}</code></p>");
        }

        body.Add($"<section class=\"card flush\"><div data-live=\"{Link("/live", ("region", "registrations"), ("id", id))}\">{RegistrationTable(id)}</div></section>");
        body.Add($"<section class=\"card flush\"><h2>Refused requests</h2><p class=\"hint pad\">Device requests DPS refused over HTTPS lately (the newest {RegistrationAttempts.Capacity}): a device that is not enrolled, or whose key does not match, shows up here.</p><div data-live=\"{Link("/live", ("region", "attempts"), ("id", id))}\">{AttemptTable(id)}</div></section>");
        return WritePageAsync(context, "Registrations", "/registrations", body, "Every device that registered: where DPS assigned it, and how its last attempt ended. This page updates itself.");
    }

    private Html RegistrationTable(string? id = null, string? group = null)
    {
        var html = new Html();
        var records = store.Registrations.Values
            .Where(r => id is null || string.Equals(r.RegistrationId, id, StringComparison.OrdinalIgnoreCase))
            .Where(r => group is null || string.Equals(r.EnrollmentGroupId, group, StringComparison.OrdinalIgnoreCase))
            .OrderByDescending(r => r.LastUpdatedDateTimeUtc).ToList();
        if (records.Count == 0)
        {
            return html.Add($"<p class=\"empty\">{(id is null ? "No device has registered yet. Boot one: it appears here as soon as it does." : "This device has not registered yet; it appears here as soon as it does.")}</p>");
        }

        html.Add($"<table><thead><tr><th>Registration ID</th><th>Status</th><th>Hub</th><th>Device ID</th><th>Enrollment</th><th>Last attempt</th><th>Last error</th><th></th></tr></thead><tbody>");
        foreach (var stored in records.Take(MaxRows))
        {
            // A registration whose operation is still assigning (assignment delay) shows as the service API shows it.
            var r = dps.Operations?.AsSeen(stored) ?? stored;
            var enrollment = r.EnrollmentGroupId is { } groupId
                ? Html.Of($"{AttestationName(r.AttestationType)} · <a href=\"{Link("/groups/view", ("id", groupId))}\">group <code>{groupId}</code></a>")
                : store.Enrollments.ContainsKey(r.RegistrationId) ? Html.Of($"{AttestationName(r.AttestationType)} · <a href=\"{Link("/enrollments/view", ("id", r.RegistrationId))}\">individual</a>")
                : Html.Of($"{AttestationName(r.AttestationType)} · <span class=\"muted\">deleted</span>");
            var hub = r.AssignedHub is { } h ? Html.Of($"<a href=\"{Link("/hubs/hub", ("hub", h))}\"><code>{h}</code></a>") : new HtmlString("<span class=\"muted\">—</span>");
            var device = r.AssignedHub is { } dh && r.DeviceId is { } d ? Html.Of($"<a href=\"{Link("/hubs/device", ("hub", dh), ("id", d))}\">{(string.Equals(d, r.RegistrationId, StringComparison.Ordinal) ? new HtmlString("= registration ID") : Html.Of($"<code>{d}</code>"))}</a>") : new HtmlString("<span class=\"muted\">—</span>");
            var error = r.ErrorCode is { } code ? Html.Of($"<span class=\"err\"><b>{code}</b> {r.ErrorMessage}</span>") : new HtmlString("<span class=\"muted\">—</span>");
            html.Add($"""
                <tr data-key="{r.RegistrationId}:{r.LastUpdatedDateTimeUtc.Ticks}:{r.Status}" data-status="{r.Status}"><td class="id"><code>{r.RegistrationId}</code></td>
                <td class="nowrap">{StatusBadge(r.Status)}{(r.Substatus is { } sub ? Html.Of($"<div class=\"kv\">{sub}</div>") : default)}</td>
                <td class="nowrap">{hub}</td><td class="nowrap">{device}</td><td class="nowrap">{enrollment}</td>
                <td class="nowrap">{TimeCell(Time(r.LastUpdatedDateTimeUtc), r.LastUpdatedDateTimeUtc)}</td><td>{error}</td>
                <td class="actions">{ButtonForm("/registrations/delete", "Delete", "danger small", $"Delete the registration of '{r.RegistrationId}'? The device registers afresh next time.", ("id", r.RegistrationId))}</td></tr>
                """);
        }

        return html.Add($"</tbody></table>{More(records.Count, MaxRows, "registrations")}");
    }

    private Html AttemptTable(string? id)
    {
        var html = new Html();
        var recent = attempts.Snapshot().Where(a => id is null || string.Equals(a.RegistrationId, id, StringComparison.OrdinalIgnoreCase)).ToList();
        if (recent.Count == 0)
        {
            return html.Add($"<p class=\"empty\">No refused requests.</p>");
        }

        html.Add($"<table><thead><tr><th>When</th><th>Registration ID</th><th>Request</th><th>Answer</th><th>Why</th></tr></thead><tbody>");
        foreach (var a in recent)
        {
            html.Add($"""
                <tr data-key="{a.At.UtcTicks}:{a.RegistrationId}"><td class="nowrap">{TimeCell(Time(a.At.UtcDateTime), a.At.UtcDateTime)}</td><td class="id"><code>{a.RegistrationId}</code></td>
                <td class="nowrap">{a.Method}</td><td>{Badge(a.Status.ToString(System.Globalization.CultureInfo.InvariantCulture), a.Status >= 500 || a.Status == 429 ? "warn" : "bad")}</td><td>{a.Reason}</td></tr>
                """);
        }

        return html.Add($"</tbody></table>");
    }

    internal static HtmlString StatusBadge(string? status) => status switch
    {
        "assigned" => Html.Of($"<span class=\"badge ok dotted\">assigned</span>"),
        "assigning" => Html.Of($"<span class=\"badge info dotted\">assigning</span>"),
        "failed" => Html.Of($"<span class=\"badge bad dotted\">failed</span>"),
        "disabled" => Html.Of($"<span class=\"badge off dotted\">disabled</span>"),
        _ => Badge(status ?? "unknown", ""),
    };

    private static string AttestationName(string type) => type switch
    {
        "tpm" => "TPM",
        "symmetricKey" => "symmetric key",
        "x509" => "X.509",
        _ => type,
    };

    private async Task DeleteRegistrationAsync(HttpContext context)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var id = form["id"].ToString();
        if (!store.Registrations.ContainsKey(id))
        {
            await RedirectAsync(context, "/registrations", $"'{id}' had no registration.").ConfigureAwait(false);
            return;
        }

        var batch = new StoreBatch();
        batch.DeleteRegistration(id);
        await store.CommitAsync(batch, context.RequestAborted).ConfigureAwait(false);
        await RedirectAsync(context, "/registrations", $"Deleted the registration of '{id}'.").ConfigureAwait(false);
    }
}

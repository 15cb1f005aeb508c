using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

using Microsoft.AspNetCore.Http;

using Provisioning.Emulator.Device;
using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;
using Provisioning.Emulator.Storage;
using Provisioning.Emulator.Tpm;

namespace Provisioning.Emulator.Portal;

/// <summary>Individual enrollments and enrollment groups: list, add (TPM by pasting its EK, symmetric key, X.509 by upload),
/// enable or disable, delete, and one enrollment in full (keys masked unless asked for).</summary>
internal sealed partial class PortalPages
{
    private const int MaxCertificateBytes = 64 * 1024;

    private Task EnrollmentsAsync(HttpContext context, bool group, IFormCollection? form, string? error)
    {
        var body = new Html();
        var region = group ? "groups" : "enrollments";
        body.Add($"<section class=\"card flush\"><h2>{(group ? "Enrollment groups" : "Individual enrollments")}</h2><div data-live=\"/live?region={region}\">{EnrollmentTable(group)}</div></section>");
        body.Add($"{AddEnrollmentForm(group, form)}");
        return WritePageAsync(context, group ? "Enrollment groups" : "Individual enrollments", group ? "/groups" : "/enrollments", body,
            group ? "Many devices sharing one attestation: a symmetric group key or an X.509 signing certificate."
                  : "One device each: its TPM endorsement key, its symmetric key or its X.509 certificate.",
            error: error, status: error is null ? 200 : 400);
    }

    private Html EnrollmentTable(bool group)
    {
        var html = new Html();
        if (group)
        {
            var groups = store.Groups.Values.OrderBy(g => g.EnrollmentGroupId, StringComparer.Ordinal).ToList();
            if (groups.Count == 0)
            {
                return html.Add($"<p class=\"empty\">No enrollment groups yet. Add one below.</p>");
            }

            html.Add($"<table><thead><tr><th>Group</th><th>Mechanism</th><th>Status</th><th>Allocation</th><th>Registrations</th><th>Created</th><th></th></tr></thead><tbody>");
            foreach (var g in groups.Take(MaxRows))
            {
                var id = g.EnrollmentGroupId ?? "";
                var count = store.Registrations.Values.Count(r => string.Equals(r.EnrollmentGroupId, id, StringComparison.OrdinalIgnoreCase));
                html.Add($"""
                    <tr data-key="{id}"><td class="id"><a href="{Link("/groups/view", ("id", id))}"><code>{id}</code></a></td><td>{Mechanism(g.Attestation)}</td>
                    <td>{EnabledBadge(g.ProvisioningStatus)}</td><td>{Allocation(g.AllocationPolicy, g.IotHubs)}</td><td>{count}</td>
                    <td class="nowrap">{TimeCell(Time(g.CreatedDateTimeUtc), g.CreatedDateTimeUtc)}</td><td class="actions">{Actions(true, id, g.ProvisioningStatus)}</td></tr>
                    """);
            }

            return html.Add($"</tbody></table>{More(groups.Count, MaxRows, "groups")}");
        }

        var enrollments = store.Enrollments.Values.OrderBy(e => e.RegistrationId, StringComparer.Ordinal).ToList();
        if (enrollments.Count == 0)
        {
            return html.Add($"<p class=\"empty\">No individual enrollments yet. Add one below — a TPM device by pasting what TpmDeviceProvision prints.</p>");
        }

        html.Add($"<table><thead><tr><th>Registration ID</th><th>Mechanism</th><th>Device ID</th><th>Status</th><th>Allocation</th><th>Registration</th><th>Created</th><th></th></tr></thead><tbody>");
        foreach (var e in enrollments.Take(MaxRows))
        {
            var id = e.RegistrationId ?? "";
            store.Registrations.TryGetValue(id, out var registration);
            html.Add($"""
                <tr data-key="{id}"><td class="id"><a href="{Link("/enrollments/view", ("id", id))}"><code>{id}</code></a></td><td>{Mechanism(e.Attestation)}</td>
                <td>{(e.DeviceId is { } deviceId ? Html.Of($"<code>{deviceId}</code>") : new HtmlString("<span class=\"muted\">= registration ID</span>"))}</td>
                <td>{EnabledBadge(e.ProvisioningStatus)}</td><td>{Allocation(e.AllocationPolicy, e.IotHubs)}</td>
                <td>{(registration is null ? new HtmlString("<span class=\"muted\">not yet</span>") : Html.Of($"<a href=\"{Link("/registrations", ("id", id))}\">{StatusBadge(registration.Status)}</a>"))}</td>
                <td class="nowrap">{TimeCell(Time(e.CreatedDateTimeUtc), e.CreatedDateTimeUtc)}</td><td class="actions">{Actions(false, id, e.ProvisioningStatus)}</td></tr>
                """);
        }

        return html.Add($"</tbody></table>{More(enrollments.Count, MaxRows, "enrollments")}");
    }

    private Html Actions(bool group, string id, string? status)
    {
        var prefix = group ? "/groups" : "/enrollments";
        var enabled = status != "disabled";
        return new Html().Add($"""
            {ButtonForm(prefix + "/status", enabled ? "Disable" : "Enable", "quiet small", null, ("id", id), ("enabled", enabled ? "false" : "true"))}
            {ButtonForm(prefix + "/delete", "Delete", "danger small", $"Delete the enrollment '{id}'?", ("id", id))}
            """);
    }

    private static HtmlString Mechanism(AttestationMechanism? attestation) => attestation?.Type switch
    {
        "tpm" => Badge("TPM", "info"),
        "symmetricKey" => Badge("Symmetric key", ""),
        "x509" when attestation.X509?.CaReferences is not null => Badge("X.509 (CA reference)", "warn"),
        "x509" => Badge("X.509", "warn"),
        _ => Badge(attestation?.Type ?? "?", "off"),
    };

    private static HtmlString EnabledBadge(string? status) =>
        status == "disabled" ? Html.Of($"<span class=\"badge off dotted\">disabled</span>") : Html.Of($"<span class=\"badge ok dotted\">enabled</span>");

    private static HtmlString Allocation(string? policy, List<string>? hubs) =>
        Html.Of($"{policy ?? "hashed"}{(hubs is { Count: > 0 } ? Html.Of($"<div class=\"kv\">{string.Join(", ", hubs)}</div>") : default)}");

    private Html AddEnrollmentForm(bool group, IFormCollection? form)
    {
        string Value(string name, string fallback = "") => form is null ? fallback : form[name].ToString();
        bool Checked(string name, bool fallback) => form is null ? fallback : form[name].Count > 0;
        HtmlString Check(bool on) => on ? new HtmlString(" checked") : default;
        var mechanism = Value("mechanism", group ? "symmetricKey" : "tpm");
        var keys = Value("keys", "generate");
        var policy = Value("allocation", "hashed");
        var chosenHubs = form is null ? [] : form["hubs"].Select(h => h ?? "").ToHashSet(StringComparer.OrdinalIgnoreCase);

        var fields = new Html();
        fields.Add($"<fieldset><legend>Mechanism</legend><div class=\"tabs\" role=\"radiogroup\">");
        if (!group)
        {
            fields.Add($"<label><input type=\"radio\" name=\"mechanism\" value=\"tpm\"{Check(mechanism == "tpm")}> TPM</label>");
        }

        fields.Add($"""
            <label><input type="radio" name="mechanism" value="symmetricKey"{Check(mechanism == "symmetricKey")}> Symmetric key</label>
            <label><input type="radio" name="mechanism" value="x509"{Check(mechanism == "x509")}> X.509 certificate</label></div></fieldset>
            """);
        if (!group)
        {
            fields.Add($"""
                <div class="stack" data-when="mechanism=tpm">
                <label class="field"><span>Endorsement key</span><textarea class="mono" name="endorsementKey" rows="4" spellcheck="false" placeholder="Endorsement Key: AToAAQALAAMAsgAg…">{Value("endorsementKey")}</textarea>
                <small>Paste the <b>Endorsement Key</b> line TpmDeviceProvision prints (base64 of the EK's TPM2B_PUBLIC). Pasting its whole output works too.</small></label>
                </div>
                """);
        }

        fields.Add($"""
            <div class="row"><label class="field"><span>{(group ? "Group ID" : "Registration ID")}</span><input type="text" name="id" value="{Value("id")}" spellcheck="false" autocomplete="off">
            <small>{(group ? "Letters, digits, '-', '.', '_', ':'." : "As TpmDeviceProvision prints it. Empty: derived from the EK (TPM) or the certificate's CN (X.509).")}</small></label>
            {(group ? default : Html.Of($"<label class=\"field\"><span>Device ID</span><input type=\"text\" name=\"deviceId\" value=\"{Value("deviceId")}\" spellcheck=\"false\" autocomplete=\"off\"><small>The device's name in its hub. Empty: the registration ID.</small></label>"))}</div>
            <div class="stack" data-when="mechanism=symmetricKey"><fieldset><legend>Keys</legend><div class="choices">
            <label><input type="radio" name="keys" value="generate"{Check(keys != "given")}> Generate keys</label>
            <label><input type="radio" name="keys" value="given"{Check(keys == "given")}> Enter keys</label></div>
            <div class="row" data-when="keys=given"><label class="field"><span>Primary key</span><input type="text" class="mono" name="primaryKey" value="{Value("primaryKey")}" autocomplete="off" spellcheck="false"></label>
            <label class="field"><span>Secondary key</span><input type="text" class="mono" name="secondaryKey" value="{Value("secondaryKey")}" autocomplete="off" spellcheck="false"><small>Base64, 16–64 bytes. Empty: generated.</small></label></div></fieldset></div>
            <div class="stack" data-when="mechanism=x509"><label class="field"><span>{(group ? "Signing certificate (root or intermediate)" : "Device certificate")}</span><input type="file" name="certificate" accept=".pem,.cer,.crt,.der">
            <small>PEM or DER, public part only.{(group ? " Devices whose chain reaches it are accepted." : " The device presents it in the TLS handshake.")}</small></label></div>
            """);
        fields.Add($"""
            <div class="row"><label class="field"><span>Allocation policy</span><select name="allocation">
            <option value="hashed"{Selected(policy == "hashed")}>Evenly weighted (hashed)</option><option value="geoLatency"{Selected(policy == "geoLatency")}>Lowest latency (geoLatency)</option>
            <option value="static"{Selected(policy == "static")}>Static (one hub)</option><option value="custom"{Selected(policy == "custom")}>Custom (webhook)</option></select></label>
            <fieldset><legend>IoT hubs</legend><div class="choices">
            """);
        foreach (var hub in dps.Hubs)
        {
            fields.Add($"<label><input type=\"checkbox\" name=\"hubs\" value=\"{hub.HostName}\"{Check(chosenHubs.Contains(hub.HostName))}> {hub.HostName}</label>");
        }

        fields.Add($"""
            </div><small>None ticked: all linked hubs. Static allocation needs exactly one.</small></fieldset></div>
            <label class="field" data-when="allocation=custom"><span>Webhook URL</span><input type="url" name="webhook" value="{Value("webhook")}" placeholder="https://localhost:7071/api/allocate"></label>
            <label class="field"><span>Initial twin</span><textarea class="mono" name="initialTwin" rows="3" spellcheck="false" placeholder="{"{\"tags\":{\"site\":\"lab\"},\"properties\":{\"desired\":{\"interval\":30}}}"}">{Value("initialTwin")}</textarea><small>Optional JSON: tags and desired properties the device starts with.</small></label>
            <div class="choices"><label><input type="checkbox" name="enabled" value="true"{Check(Checked("enabled", true))}> Enabled</label>
            <label><input type="checkbox" name="updateHub" value="true"{Check(Checked("updateHub", true))}> Re-evaluate the hub on re-registration</label>
            <label><input type="checkbox" name="migrate" value="true"{Check(Checked("migrate", true))}> Migrate device data</label>
            <input type="hidden" name="posted" value="1"></div>
            <div class="buttons"><button type="submit">{(group ? "Add enrollment group" : "Add enrollment")}</button></div>
            """);
        return new Html().Add($"<section class=\"card\" id=\"add\"><h2>{(group ? "Add an enrollment group" : "Add an individual enrollment")}</h2>{Form(group ? "/groups/add" : "/enrollments/add", fields, "stack", upload: true)}</section>");
    }

    private static HtmlString Selected(bool on) => on ? new HtmlString(" selected") : default;

    private async Task AddEnrollmentAsync(HttpContext context, bool group)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var (id, error) = await TryAddAsync(form, group, context.RequestAborted).ConfigureAwait(false);
        if (error is not null)
        {
            await EnrollmentsAsync(context, group, form, error).ConfigureAwait(false);
            return;
        }

        await RedirectAsync(context, group ? "/groups/view" : "/enrollments/view", $"Added '{id}'.", ("id", id)).ConfigureAwait(false);
    }

    private async Task<(string? Id, string? Error)> TryAddAsync(IFormCollection form, bool group, CancellationToken cancellationToken)
    {
        var mechanism = form["mechanism"].ToString();
        var id = form["id"].ToString().Trim();
        byte[]? endorsementKey = null;
        X509Certificate2? certificate = null;
        try
        {
            switch (mechanism)
            {
                case "tpm" when !group:
                    var (pastedId, pastedKey) = PortalForms.ParseTpmOutput(form["endorsementKey"]);
                    var (idFieldId, _) = PortalForms.ParseTpmOutput(id.Contains(':', StringComparison.Ordinal) && id.StartsWith("Registration", StringComparison.OrdinalIgnoreCase) ? id : null);
                    id = idFieldId ?? (id.Length > 0 ? id : pastedId ?? "");
                    if (pastedKey is null)
                    {
                        return (null, "Paste the device's endorsement key (the 'Endorsement Key:' line of TpmDeviceProvision).");
                    }

                    endorsementKey = PortalForms.DecodeBase64(pastedKey);
                    if (endorsementKey is null)
                    {
                        return (null, "The endorsement key is not base64. Paste it exactly as TpmDeviceProvision prints it.");
                    }

                    try
                    {
                        TpmDeviceKey.Parse(endorsementKey, TpmDeviceKeyRole.Endorsement);
                    }
                    catch (TpmAttestationRejectedException ex)
                    {
                        return (null, $"This is not a TPM endorsement key DPS accepts: {ex.Message}");
                    }

                    if (id.Length == 0)
                    {
                        id = PortalForms.DeriveRegistrationId(endorsementKey);
                    }

                    break;
                case "symmetricKey":
                    break;
                case "x509":
                    var file = form.Files["certificate"];
                    if (file is null || file.Length == 0)
                    {
                        return (null, "Choose a certificate file (PEM or DER).");
                    }

                    if (file.Length > MaxCertificateBytes)
                    {
                        return (null, "The certificate file is larger than 64 KB: upload the certificate alone.");
                    }

                    var bytes = new byte[file.Length];
                    var stream = file.OpenReadStream();
                    await using (stream.ConfigureAwait(false))
                    {
                        await stream.ReadExactlyAsync(bytes, cancellationToken).ConfigureAwait(false);
                    }

                    certificate = LoadCertificate(bytes);
                    if (certificate is null)
                    {
                        return (null, "The file is not an X.509 certificate (PEM or DER).");
                    }

                    if (id.Length == 0 && !group)
                    {
                        id = certificate.GetNameInfo(X509NameType.SimpleName, false);
                    }

                    break;
                default:
                    return (null, "Choose a mechanism.");
            }

            if (!DeviceService.IsValidRegistrationId(id))
            {
                return (null, $"{(group ? "A group ID" : "A registration ID")} is 1–128 characters: letters, digits, '-', '.', '_', ':'.");
            }

            if (group ? store.Groups.ContainsKey(id) : store.Enrollments.ContainsKey(id))
            {
                return (null, $"'{id}' is already enrolled: delete it first to enroll it again.");
            }

            var deviceId = group ? null : form["deviceId"].ToString().Trim() is { Length: > 0 } d ? d : null;
            if (deviceId is not null && (deviceId.Length > 128 || deviceId.Any(c => c is '/' or '#' or '?' || char.IsControl(c) || char.IsWhiteSpace(c))))
            {
                return (null, "A device ID is at most 128 characters, without spaces, '/', '#' or '?'.");
            }

            var hubs = form["hubs"].Select(h => h ?? "").Where(h => h.Length > 0).ToList();
            if (hubs.FirstOrDefault(h => !dps.Hubs.Any(l => string.Equals(l.HostName, h, StringComparison.OrdinalIgnoreCase))) is { } unknown)
            {
                return (null, $"'{unknown}' is not a linked hub.");
            }

            var policy = form["allocation"].ToString() switch
            {
                "geoLatency" => AllocationPolicy.GeoLatency,
                "static" => AllocationPolicy.Static,
                "custom" => AllocationPolicy.Custom,
                _ => AllocationPolicy.Hashed,
            };
            if (policy == AllocationPolicy.Static && hubs.Count != 1)
            {
                return (null, "Static allocation needs exactly one hub ticked.");
            }

            Uri? webhook = null;
            if (policy == AllocationPolicy.Custom
                && (!Uri.TryCreate(form["webhook"].ToString().Trim(), UriKind.Absolute, out webhook) || webhook.Scheme is not ("https" or "http")))
            {
                return (null, "Custom allocation needs the webhook's absolute http(s) URL.");
            }

            var twin = PortalForms.ParseObject(form["initialTwin"], "The initial twin", out var twinError);
            if (twinError is not null)
            {
                return (null, twinError);
            }

            var given = form["keys"] == "given";
            var settings = new EnrollmentSettings
            {
                DeviceId = deviceId,
                Enabled = form["enabled"].Count > 0,
                AllocationPolicy = policy,
                IotHubs = hubs,
                WebhookUrl = webhook,
                InitialTwinJson = twin?.ToJsonString(),
                UpdateHubAssignment = form["updateHub"].Count > 0,
                MigrateDeviceData = form["migrate"].Count > 0,
                PrimaryKey = given && form["primaryKey"].ToString().Trim() is { Length: > 0 } p ? p : null,
                SecondaryKey = given && form["secondaryKey"].ToString().Trim() is { Length: > 0 } s ? s : null,
            };

            var enrollments = dps.Enrollments;
            switch (mechanism, group)
            {
                case ("tpm", false): await enrollments.AddTpmAsync(id, endorsementKey, settings, cancellationToken).ConfigureAwait(false); break;
                case ("symmetricKey", false): await enrollments.AddSymmetricKeyAsync(id, settings, cancellationToken).ConfigureAwait(false); break;
                case ("symmetricKey", true): await enrollments.AddSymmetricKeyGroupAsync(id, settings, cancellationToken).ConfigureAwait(false); break;
                case ("x509", false): await enrollments.AddX509Async(id, certificate!, settings, cancellationToken).ConfigureAwait(false); break;
                default: await enrollments.AddX509GroupAsync(id, certificate!, settings, cancellationToken).ConfigureAwait(false); break;
            }

            return (id, null);
        }
        catch (ArgumentException ex)
        {
            return (null, ex.ParamName is { } name ? ex.Message.Replace($" (Parameter '{name}')", "", StringComparison.Ordinal) : ex.Message);
        }
        finally
        {
            certificate?.Dispose();
        }
    }

    private static X509Certificate2? LoadCertificate(byte[] bytes)
    {
        var text = System.Text.Encoding.UTF8.GetString(bytes);
        if (text.Contains("-----BEGIN", StringComparison.Ordinal) || text.All(c => c < 128))
        {
            if (CertificateText.TryLoad(text.Trim()) is { } fromText)
            {
                return fromText;
            }
        }

        try
        {
            return X509CertificateLoader.LoadCertificate(bytes);
        }
        catch (System.Security.Cryptography.CryptographicException)
        {
            return null;
        }
    }

    private async Task SetEnrollmentStatusAsync(HttpContext context, bool group)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var id = form["id"].ToString();
        var enabled = form["enabled"] == "true";
        var status = enabled ? "enabled" : "disabled";
        var now = time.GetUtcNow().UtcDateTime;
        var batch = new StoreBatch();
        if (group && store.Groups.TryGetValue(id, out var g))
        {
            var copy = JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(g, EmulatorJsonContext.Default.EnrollmentGroup), EmulatorJsonContext.Default.EnrollmentGroup)!;
            copy.ProvisioningStatus = status;
            copy.LastUpdatedDateTimeUtc = now;
            copy.Etag = EnrollmentFactory.NewEtag();
            batch.PutGroup(copy);
        }
        else if (!group && store.Enrollments.TryGetValue(id, out var e))
        {
            var copy = JsonSerializer.Deserialize(JsonSerializer.SerializeToUtf8Bytes(e, EmulatorJsonContext.Default.IndividualEnrollment), EmulatorJsonContext.Default.IndividualEnrollment)!;
            copy.ProvisioningStatus = status;
            copy.LastUpdatedDateTimeUtc = now;
            copy.Etag = EnrollmentFactory.NewEtag();
            batch.PutEnrollment(copy);
        }
        else
        {
            await EnrollmentsAsync(context, group, null, $"'{id}' is not enrolled (deleted meanwhile?).").ConfigureAwait(false);
            return;
        }

        await store.CommitAsync(batch, context.RequestAborted).ConfigureAwait(false);
        await RedirectAsync(context, Referer(form, group ? "/groups" : "/enrollments"), $"'{id}' is {status}.", ("id", Referer(form, "").EndsWith("/view", StringComparison.Ordinal) ? id : null)).ConfigureAwait(false);
    }

    private async Task DeleteEnrollmentAsync(HttpContext context, bool group)
    {
        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var id = form["id"].ToString();
        var removed = !string.IsNullOrWhiteSpace(id) && (group
            ? await dps.Enrollments.RemoveGroupAsync(id, context.RequestAborted).ConfigureAwait(false)
            : await dps.Enrollments.RemoveAsync(id, context.RequestAborted).ConfigureAwait(false));
        await RedirectAsync(context, group ? "/groups" : "/enrollments", removed ? $"Deleted '{id}'." : $"'{id}' was already gone.").ConfigureAwait(false);
    }

    /// <summary>The form's page (a hidden <c>back</c> field), so an action returns where it was started.</summary>
    private static string Referer(IFormCollection form, string fallback) =>
        form["back"].ToString() is "/enrollments/view" or "/groups/view" ? form["back"].ToString() : fallback;

    private Task EnrollmentAsync(HttpContext context, bool group)
    {
        var id = context.Request.Query["id"].ToString();
        var show = context.Request.Query["show"] == "keys";
        AttestationMechanism? attestation;
        string? status, policy, deviceId = null;
        List<string>? hubs;
        JsonElement? twin;
        DateTime? created, updated;
        ReprovisionPolicy? reprovision;
        string? webhook;
        if (group && store.Groups.TryGetValue(id, out var g))
        {
            (attestation, status, policy, hubs, twin, created, updated, reprovision, webhook) =
                (g.Attestation, g.ProvisioningStatus, g.AllocationPolicy, g.IotHubs, g.InitialTwin, g.CreatedDateTimeUtc, g.LastUpdatedDateTimeUtc, g.ReprovisionPolicy, g.CustomAllocationDefinition?.WebhookUrl);
        }
        else if (!group && store.Enrollments.TryGetValue(id, out var e))
        {
            (attestation, status, policy, hubs, twin, created, updated, reprovision, webhook) =
                (e.Attestation, e.ProvisioningStatus, e.AllocationPolicy, e.IotHubs, e.InitialTwin, e.CreatedDateTimeUtc, e.LastUpdatedDateTimeUtc, e.ReprovisionPolicy, e.CustomAllocationDefinition?.WebhookUrl);
            deviceId = e.DeviceId;
        }
        else
        {
            return WritePageAsync(context, "Not enrolled", group ? "/groups" : "/enrollments",
                new Html().Add($"<div class=\"card\"><p><code>{id}</code> is not enrolled. <a href=\"{(group ? "/groups" : "/enrollments")}\">Back to the list</a>.</p></div>"), status: 404);
        }

        var self = group ? "/groups/view" : "/enrollments/view";
        var body = new Html();
        body.Add($"<p class=\"crumbs\"><a href=\"{(group ? "/groups" : "/enrollments")}\">{(group ? "Enrollment groups" : "Individual enrollments")}</a> / <code>{id}</code></p>");
        body.Add($"""
            <div class="grid two"><section class="card"><div class="split"><h2>Enrollment</h2><div class="buttons">
            {ButtonForm((group ? "/groups" : "/enrollments") + "/status", status == "disabled" ? "Enable" : "Disable", "quiet small", null, ("id", id), ("enabled", status == "disabled" ? "true" : "false"), ("back", self))}
            {ButtonForm((group ? "/groups" : "/enrollments") + "/delete", "Delete", "danger small", $"Delete the enrollment '{id}'?", ("id", id))}</div></div>
            <dl class="facts"><dt>{(group ? "Group ID" : "Registration ID")}</dt><dd><code>{id}</code></dd>
            {(group ? default : Html.Of($"<dt>Device ID</dt><dd><code>{deviceId ?? id}</code></dd>"))}
            <dt>Status</dt><dd>{EnabledBadge(status)}</dd><dt>Mechanism</dt><dd>{Mechanism(attestation)}</dd>
            <dt>Allocation</dt><dd>{Allocation(policy, hubs)}{(webhook is null ? default : Html.Of($"<div class=\"kv\">{webhook}</div>"))}</dd>
            <dt>Reprovision</dt><dd>{(reprovision?.UpdateHubAssignment != false ? "re-evaluate the hub" : "keep the hub")}, {(reprovision?.MigrateDeviceData != false ? "migrate data" : "reset data")}</dd>
            <dt>Created</dt><dd>{TimeCell(Time(created), created)}</dd><dt>Updated</dt><dd>{TimeCell(Time(updated), updated)}</dd></dl></section>
            <section class="card"><div class="split"><h2>Attestation</h2>{(attestation?.Type == "symmetricKey" ? (show ? Html.Of($"<a class=\"button quiet small\" href=\"{Link(self, ("id", id))}\">Hide keys</a>") : Html.Of($"<a class=\"button quiet small\" href=\"{Link(self, ("id", id), ("show", "keys"))}\">Show keys</a>")) : default)}</div>{AttestationFacts(attestation, show)}</section></div>
            """);
        body.Add($"<section class=\"card\"><h2>Initial twin</h2>{(twin is { } t ? Html.Of($"<pre class=\"light\">{PortalForms.Pretty(t.GetRawText())}</pre>") : new HtmlString("<p class=\"muted\">None.</p>"))}</section>");
        if (!group)
        {
            body.Add($"<section class=\"card flush\"><h2>Registration</h2><div data-live=\"{Link("/live", ("region", "registrations"), ("id", id))}\">{RegistrationTable(id)}</div></section>");
        }
        else
        {
            body.Add($"<section class=\"card flush\"><h2>Registrations</h2><div data-live=\"{Link("/live", ("region", "registrations"), ("group", id))}\">{RegistrationTable(group: id)}</div></section>");
        }

        return WritePageAsync(context, id, group ? "/groups" : "/enrollments", body, group ? "Enrollment group" : "Individual enrollment");
    }

    private static Html AttestationFacts(AttestationMechanism? attestation, bool show)
    {
        var html = new Html();
        switch (attestation?.Type)
        {
            case "tpm":
                html.Add($"<dl class=\"facts\"><dt>Type</dt><dd>TPM 2.0</dd><dt>Endorsement key</dt><dd><pre class=\"light\">{attestation.Tpm?.EndorsementKey}</pre></dd></dl>");
                break;
            case "symmetricKey":
                html.Add($"<dl class=\"facts\"><dt>Primary key</dt><dd>{Masked(attestation.SymmetricKey?.PrimaryKey, show)}</dd><dt>Secondary key</dt><dd>{Masked(attestation.SymmetricKey?.SecondaryKey, show)}</dd></dl>");
                break;
            case "x509":
                var x509 = attestation.X509;
                var certificate = x509?.ClientCertificates?.Primary ?? x509?.SigningCertificates?.Primary;
                var info = certificate?.Info;
                html.Add($"""
                    <dl class="facts"><dt>Certificate</dt><dd>{(x509?.ClientCertificates is not null ? "device certificate" : "signing certificate (root or intermediate)")}</dd>
                    <dt>Subject</dt><dd><code>{info?.SubjectName}</code></dd><dt>Issuer</dt><dd><code>{info?.IssuerName}</code></dd>
                    <dt>SHA-256</dt><dd><code>{info?.Sha256Thumbprint}</code></dd><dt>Valid</dt><dd>{info?.NotBeforeUtc?.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)} → {info?.NotAfterUtc?.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)}</dd></dl>
                    """);
                break;
            default:
                html.Add($"<p class=\"muted\">No attestation.</p>");
                break;
        }

        return html;
    }
}

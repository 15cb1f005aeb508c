using System.Globalization;
using System.Text;

using Microsoft.AspNetCore.Http;

using Provisioning.Emulator.Storage;

namespace Provisioning.Emulator.Portal;

/// <summary>The portal's pages and form actions. Each live region is rendered by the same code for the page and for the
/// script's refresh (<c>/live?region=…</c>).</summary>
internal sealed partial class PortalPages(DpsEmulator dps, EmulatorStore store, RegistrationAttempts attempts, string formToken, TimeProvider time, string? infoFile)
{
    /// <summary>The most rows a table shows (a fleet of thousands stays usable; the page says what it left out).</summary>
    internal const int MaxRows = 500;

    public static bool IsAsset(PathString path) => path.StartsWithSegments("/assets", StringComparison.Ordinal);

    public static Task ServeAssetAsync(HttpContext context)
    {
        var (type, text) = context.Request.Path.Value switch
        {
            "/assets/portal.css" => ("text/css; charset=utf-8", PortalAssets.Css),
            "/assets/portal.js" => ("text/javascript; charset=utf-8", PortalAssets.Script),
            _ => (null, null),
        };
        if (text is null)
        {
            context.Response.StatusCode = 404;
            return Task.CompletedTask;
        }

        context.Response.ContentType = type;
        return context.Response.WriteAsync(text, context.RequestAborted);
    }

    public Task HandleAsync(HttpContext context)
    {
        var get = !HttpMethods.IsPost(context.Request.Method);
        return (context.Request.Path.Value, get) switch
        {
            ("/", true) => OverviewAsync(context),
            ("/enrollments", true) => EnrollmentsAsync(context, group: false, null, null),
            ("/groups", true) => EnrollmentsAsync(context, group: true, null, null),
            ("/enrollments/view", true) => EnrollmentAsync(context, group: false),
            ("/groups/view", true) => EnrollmentAsync(context, group: true),
            ("/enrollments/add", false) => AddEnrollmentAsync(context, group: false),
            ("/groups/add", false) => AddEnrollmentAsync(context, group: true),
            ("/enrollments/status", false) => SetEnrollmentStatusAsync(context, group: false),
            ("/groups/status", false) => SetEnrollmentStatusAsync(context, group: true),
            ("/enrollments/delete", false) => DeleteEnrollmentAsync(context, group: false),
            ("/groups/delete", false) => DeleteEnrollmentAsync(context, group: true),
            ("/registrations", true) => RegistrationsAsync(context),
            ("/registrations/delete", false) => DeleteRegistrationAsync(context),
            ("/hubs", true) => HubsAsync(context),
            ("/hubs/hub", true) => HubAsync(context),
            ("/hubs/device", true) => DeviceAsync(context, null, null),
            ("/hubs/c2d", false) => SendCloudToDeviceAsync(context),
            ("/hubs/method", false) => InvokeMethodAsync(context),
            ("/hubs/twin", false) => UpdateTwinAsync(context),
            ("/hubs/enabled", false) => SetDeviceEnabledAsync(context),
            ("/faults", true) => FaultsAsync(context, null, null),
            ("/faults/add", false) => AddFaultAsync(context),
            ("/faults/remove", false) => RemoveFaultAsync(context),
            ("/faults/clear", false) => ClearFaultsAsync(context),
            ("/live", true) => LiveAsync(context),
            _ => NotFoundAsync(context),
        };
    }

    private Task LiveAsync(HttpContext context)
    {
        var query = context.Request.Query;
        Html? region = query["region"].ToString() switch
        {
            "stats" => Stats(),
            "enrollments" => EnrollmentTable(group: false),
            "groups" => EnrollmentTable(group: true),
            "registrations" => RegistrationTable(NonEmpty(query["id"]), NonEmpty(query["group"])),
            "attempts" => AttemptTable(NonEmpty(query["id"])),
            "hubs" => HubTable(),
            "hub-devices" when FindHub(query["hub"]) is { } hub => HubDeviceTable(hub),
            "hub-telemetry" when FindHub(query["hub"]) is { } hub => HubTelemetry(hub),
            "device-state" when FindHub(query["hub"]) is { } hub => DeviceState(hub, query["id"].ToString()),
            "device-telemetry" when FindHub(query["hub"]) is { } hub => DeviceTelemetry(hub, query["id"].ToString()),
            "faults" => FaultTable(),
            _ => null,
        };
        if (region is null)
        {
            context.Response.StatusCode = 404;
            return Task.CompletedTask;
        }

        context.Response.ContentType = "text/html; charset=utf-8";
        return context.Response.WriteAsync(region.ToString(), context.RequestAborted);
    }

    private static string? NonEmpty(Microsoft.Extensions.Primitives.StringValues value) => value.ToString() is { Length: > 0 } text ? text : null;

    private Task NotFoundAsync(HttpContext context) =>
        WritePageAsync(context, "Not found", "", new Html().Add($"<div class=\"card\"><p>There is no such page. <a href=\"/\">Back to the overview</a>.</p></div>"), status: 404);

    private Task WritePageAsync(HttpContext context, string title, string active, Html body, string? subtitle = null, string? error = null, int status = 200)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        var notice = context.Request.Query["done"].ToString() is { Length: > 0 and <= 300 } done ? done : null;
        return context.Response.WriteAsync(PortalLayout.Page(title, active, dps.IdScope, body, subtitle, notice, error), context.RequestAborted);
    }

    /// <summary>After a form: back to a page with a notice (Post/Redirect/Get, so a reload does not repeat the action).</summary>
    private static Task RedirectAsync(HttpContext context, string path, string notice, params (string Name, string? Value)[] query)
    {
        context.Response.Redirect(Link(path, [.. query, ("done", notice)]));
        return Task.CompletedTask;
    }

    /// <summary>A path with its query, each value escaped (the result is HTML-encoded again where it is written).</summary>
    internal static string Link(string path, params (string Name, string? Value)[] query)
    {
        var builder = new StringBuilder(path);
        var first = true;
        foreach (var (name, value) in query)
        {
            if (value is null)
            {
                continue;
            }

            builder.Append(first ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
            first = false;
        }

        return builder.ToString();
    }

    /// <summary>A form that posts to the portal with its form token.</summary>
    private HtmlString Form(string action, Html fields, string? cssClass = null, string? confirm = null, bool upload = false) => Html.Of($"""
        <form method="post" action="{action}"{(cssClass is null ? default : Html.Of($" class=\"{cssClass}\""))}{(confirm is null ? default : Html.Of($" data-confirm=\"{confirm}\""))}{(upload ? new HtmlString(" enctype=\"multipart/form-data\"") : default)}><input type="hidden" name="{PortalServer.FormTokenField}" value="{formToken}">{fields}</form>
        """);

    private HtmlString Form(string action, HtmlString fields, string? cssClass = null) => Form(action, new Html().Add($"{fields}"), cssClass);

    /// <summary>A one-button form (enable, delete, …) carrying hidden fields.</summary>
    private HtmlString ButtonForm(string action, string label, string buttonClass, string? confirm, params (string Name, string Value)[] fields)
    {
        var inner = new Html();
        foreach (var (name, value) in fields)
        {
            inner.Add($"<input type=\"hidden\" name=\"{name}\" value=\"{value}\">");
        }

        inner.Add($"<button type=\"submit\" class=\"{buttonClass}\">{label}</button>");
        return Form(action, inner, confirm: confirm);
    }

    private string Time(DateTime? utc)
    {
        if (utc is not { } value)
        {
            return "—";
        }

        var ago = time.GetUtcNow().UtcDateTime - DateTime.SpecifyKind(value, DateTimeKind.Utc);
        return ago switch
        {
            { TotalSeconds: < 0 } => value.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
            { TotalSeconds: < 5 } => "just now",
            { TotalSeconds: < 60 } => $"{(int)ago.TotalSeconds} s ago",
            { TotalMinutes: < 60 } => $"{(int)ago.TotalMinutes} min ago",
            { TotalHours: < 24 } => $"{(int)ago.TotalHours} h ago",
            _ => value.ToString("yyyy-MM-dd HH:mm", CultureInfo.InvariantCulture),
        };
    }

    private static HtmlString TimeCell(string relative, DateTime? utc) => utc is { } value
        ? Html.Of($"<time datetime=\"{value.ToString("o", CultureInfo.InvariantCulture)}\" title=\"{value.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)} UTC\">{relative}</time>")
        : new HtmlString("<span class=\"muted\">—</span>");

    private static HtmlString Badge(string text, string kind) => Html.Of($"<span class=\"badge {kind}\">{text}</span>");

    private static HtmlString Masked(string? secret, bool show) => secret is null ? new HtmlString("<span class=\"muted\">—</span>")
        : show ? Html.Of($"<code>{secret}</code>") : new HtmlString("<span class=\"secret\" title=\"hidden\">••••••••••••</span>");

    private static HtmlString More(int total, int shown, string what) => total > shown
        ? Html.Of($"<p class=\"hint more\">Showing {shown} of {total} {what}.</p>")
        : default;
}

namespace Provisioning.Emulator.Portal;

/// <summary>The page shell (side navigation, title, notices) and the small pages of refusals.</summary>
internal static class PortalLayout
{
    internal static readonly (string Path, string Label)[] Navigation =
    [
        ("/", "Overview"),
        ("/enrollments", "Individual enrollments"),
        ("/groups", "Enrollment groups"),
        ("/registrations", "Registrations"),
        ("/hubs", "IoT hubs"),
        ("/faults", "Fault rules"),
    ];

    public static string Page(string title, string active, string idScope, Html body, string? subtitle = null, string? notice = null, string? error = null)
    {
        var page = new Html();
        page.Add($"""
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>{title} · DPS emulator</title><link rel="stylesheet" href="/assets/portal.css"><script src="/assets/portal.js" defer></script></head>
            <body><aside class="side"><div class="side-inner"><a class="brand" href="/"><span class="logo" aria-hidden="true"></span><span>DPS emulator<small>ID scope <code>{idScope}</code></small></span></a><nav>
            """);
        foreach (var (path, label) in Navigation)
        {
            var current = path == active;
            page.Add($"<a href=\"{path}\"{(current ? new HtmlString(" class=\"active\" aria-current=\"page\"") : default)}>{label}</a>");
        }

        page.Add($"""</nav><div class="live" id="live-status" title="Pages refresh themselves while open"><span class="dot"></span><span class="label">live</span></div></div></aside><main><header class="top"><h1>{title}</h1>""");
        if (subtitle is not null)
        {
            page.Add($"<p class=\"sub\">{subtitle}</p>");
        }

        page.Add($"</header>");
        if (notice is not null)
        {
            page.Add($"<div class=\"notice ok\" role=\"status\">{notice}</div>");
        }

        if (error is not null)
        {
            page.Add($"<div class=\"notice bad\" role=\"alert\">{error}</div>");
        }

        page.Add($"{body}</main></body></html>");
        return page.ToString();
    }

    public static string Refusal(string title, string message) => Html.Of($"""
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>{title} · DPS emulator</title><link rel="stylesheet" href="/assets/portal.css"></head>
        <body class="refusal"><main><div class="card narrow"><div class="brand-line"><span class="logo" aria-hidden="true"></span><span>DPS emulator portal</span></div><h1>{title}</h1><p>{message}</p></div></main></body></html>
        """).Value;
}

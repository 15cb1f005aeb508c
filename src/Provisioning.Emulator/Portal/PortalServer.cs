using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Provisioning.Emulator.Portal;

/// <summary>
/// The operator's portal: server-rendered pages on a Kestrel HTTPS listener of its own (a certificate from the emulator CA),
/// loopback by default, opened with a random access token.
/// </summary>
/// <remarks>
/// The token arrives once in the address (<c>?token=…</c>, as <c>portalUrl</c> in <c>emulator.json</c>); the portal moves it
/// into an HttpOnly, Secure, SameSite=Strict cookie and redirects to the same page without it, so it is not left in the
/// address bar or history. Every request without a valid token is refused (401); a request naming another host is refused
/// (DNS rebinding). A POST must also carry the form token (derived from the access token) and, when the browser says where
/// it comes from (<c>Origin</c>, <c>Sec-Fetch-Site</c>), come from the portal itself: cross-site forms are refused (403).
/// </remarks>
internal sealed class PortalServer : IAsyncDisposable
{
    internal const string CookieName = "emulator-portal";
    internal const string TokenParameter = "token";
    internal const string FormTokenField = "_form";

    /// <summary>The largest request the portal reads (a certificate upload or a twin patch fits many times over).</summary>
    private const long MaxRequestBytes = 1024 * 1024;

    private readonly WebApplication _app;
    private readonly byte[] _tokenHash;
    private readonly HashSet<string> _hosts;
    private readonly PortalPages _pages;
    private readonly ILogger _logger;

    private PortalServer(WebApplication app, byte[] tokenHash, string formToken, HashSet<string> hosts, PortalPages pages, ILogger logger)
    {
        _app = app;
        _tokenHash = tokenHash;
        FormToken = formToken;
        _hosts = hosts;
        _pages = pages;
        _logger = logger;
    }

    /// <summary>The cookie's name, with the port: cookies do not tell ports apart, so two emulators on one machine would
    /// otherwise overwrite each other's cookie and hand one's token to the other.</summary>
    private string _cookieName = CookieName;

    /// <summary>The portal's address with its access token: what to open in a browser.</summary>
    public Uri Url { get; private set; } = null!;

    /// <summary>The portal's origin, <c>https://localhost:{port}</c>.</summary>
    public string Origin { get; private set; } = null!;

    /// <summary>The token every form carries (derived from the access token, so only pages the portal served know it).</summary>
    internal string FormToken { get; }

    public static async Task<PortalServer> StartAsync(DpsEmulator dps, Storage.EmulatorStore store, RegistrationAttempts attempts, X509Certificate2 certificate, IPAddress address, int port,
        string hostName, ILoggerFactory? loggerFactory, TimeProvider time, string? infoFile, CancellationToken cancellationToken)
    {
        var token = Base64Url(RandomNumberGenerator.GetBytes(32));
        var tokenBytes = Encoding.ASCII.GetBytes(token);
        var tokenHash = SHA256.HashData(tokenBytes);
        var formToken = Base64Url(HMACSHA256.HashData(tokenBytes, "provisioning-emulator-portal-form"u8));
        CryptographicOperations.ZeroMemory(tokenBytes);

        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        // Not ASP.NET Core's request log: its "Request starting" line carries the query string, i.e. the access token.
        builder.Services.AddSingleton<ILoggerFactory>(new WithoutRequestLog(loggerFactory ?? NullLoggerFactory.Instance));
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = MaxRequestBytes;
            kestrel.Listen(address, port, listen => listen.UseHttps(new HttpsConnectionAdapterOptions
            {
                ServerCertificate = certificate,
                SslProtocols = System.Security.Authentication.SslProtocols.Tls12 | System.Security.Authentication.SslProtocols.Tls13,
            }));
        });
        var app = builder.Build();
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<PortalServer>();
        var hosts = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "localhost", "127.0.0.1", "[::1]", hostName };
        if (!address.Equals(IPAddress.Any) && !address.Equals(IPAddress.IPv6Any))
        {
            hosts.Add(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString());
        }

        var server = new PortalServer(app, tokenHash, formToken, hosts, new PortalPages(dps, store, attempts, formToken, time, infoFile), logger);
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var bound = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        var host = address.Equals(IPAddress.Loopback) || address.Equals(IPAddress.Any) ? "localhost"
            : address.Equals(IPAddress.IPv6Loopback) ? "[::1]" : hosts.Last();
        server._cookieName = $"{CookieName}-{bound.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        server.Origin = $"https://{host}:{bound.ToString(System.Globalization.CultureInfo.InvariantCulture)}";
        server.Url = new Uri($"{server.Origin}/?{TokenParameter}={token}");
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var headers = response.Headers;
        headers.CacheControl = "no-store";
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        // same-origin, not no-referrer: with no-referrer the browser sends "Origin: null" on the portal's own forms.
        headers["Referrer-Policy"] = "same-origin";
        headers.ContentSecurityPolicy = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; "
            + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

        if (!_hosts.Contains(request.Host.Host))
        {
            await WriteRefusalAsync(context, 421, "Wrong host", "This portal answers only to the address it printed.").ConfigureAwait(false);
            return;
        }

        if (PortalPages.IsAsset(request.Path))
        {
            // The style sheet and script are the same for everyone; the refusal pages use them too.
            await PortalPages.ServeAssetAsync(context).ConfigureAwait(false);
            return;
        }

        if (request.Query.TryGetValue(TokenParameter, out var offered))
        {
            if (!HttpMethods.IsGet(request.Method) || !IsToken(offered.ToString()))
            {
                PortalLog.Refused(_logger, request.Method, request.Path.Value ?? "", "wrong access token");
                await WriteRefusalAsync(context, 401, "Wrong access token",
                    "The token in this address is not this emulator's. Open the portalUrl from the emulator's emulator.json, or the address it printed when it started.").ConfigureAwait(false);
                return;
            }

            response.Cookies.Append(_cookieName, offered.ToString(), new CookieOptions
            {
                HttpOnly = true,
                Secure = true,
                SameSite = SameSiteMode.Strict,
                Path = "/",
                IsEssential = true,
            });
            // Back to the same page without the token; a path that a browser would read as another host ("//x", "/\\x") goes to "/".
            var rest = QueryString.Create(request.Query.Where(q => q.Key != TokenParameter));
            var path = request.Path.Value is { } p && !p.StartsWith("//", StringComparison.Ordinal) && !p.StartsWith("/\\", StringComparison.Ordinal) ? request.Path : new PathString("/");
            response.Redirect(path.ToUriComponent() + rest.ToUriComponent());
            return;
        }

        if (!request.Cookies.TryGetValue(_cookieName, out var cookie) || !IsToken(cookie))
        {
            PortalLog.Refused(_logger, request.Method, request.Path.Value ?? "", "no access token");
            await WriteRefusalAsync(context, 401, "Access token needed",
                "This portal is opened with its access token: use the portalUrl in the emulator's emulator.json, or the address it printed when it started.").ConfigureAwait(false);
            return;
        }

        if (HttpMethods.IsPost(request.Method))
        {
            if (await CheckFormAsync(context).ConfigureAwait(false) is { } why)
            {
                PortalLog.Refused(_logger, request.Method, request.Path.Value ?? "", why.Message);
                await WriteRefusalAsync(context, why.Status, "Form refused", why.Message).ConfigureAwait(false);
                return;
            }
        }
        else if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            await WriteRefusalAsync(context, 405, "Method not allowed", "The portal takes GET and form POSTs only.").ConfigureAwait(false);
            return;
        }

        try
        {
            await _pages.HandleAsync(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            PortalLog.Failed(_logger, ex, request.Method, request.Path.Value ?? "");
            if (!response.HasStarted)
            {
                response.Clear();
                await WriteRefusalAsync(context, 500, "Something went wrong", "The portal could not serve this page; the emulator's log has the details.").ConfigureAwait(false);
            }
        }
    }

    /// <summary>Null when the POST is the portal's own form; else the status and why not.</summary>
    private async Task<FormRefusal?> CheckFormAsync(HttpContext context)
    {
        const string Again = " Reload the page from the portal and try again.";
        var request = context.Request;
        if (request.Headers.Origin is { Count: > 0 } origin && !string.Equals(origin.ToString(), Origin, StringComparison.OrdinalIgnoreCase)
            && !_hosts.Any(h => string.Equals(origin.ToString(), $"https://{h}:{request.Host.Port}", StringComparison.OrdinalIgnoreCase)))
        {
            return new FormRefusal(403, "The form was sent from another site." + Again);
        }

        if (request.Headers["Sec-Fetch-Site"] is { Count: > 0 } site && site.ToString() is not ("same-origin" or "none"))
        {
            return new FormRefusal(403, "The form was sent from another site." + Again);
        }

        if (!request.HasFormContentType)
        {
            return new FormRefusal(415, "The request is not a form.");
        }

        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is BadHttpRequestException or InvalidDataException or IOException)
        {
            return new FormRefusal(400, $"The form could not be read (larger than {MaxRequestBytes / 1024} KB, or malformed).");
        }

        var offered = Encoding.ASCII.GetBytes(form[FormTokenField].ToString());
        return CryptographicOperations.FixedTimeEquals(offered, Encoding.ASCII.GetBytes(FormToken)) ? null
            : new FormRefusal(403, "The form token is missing or wrong." + Again);
    }

    private sealed record FormRefusal(int Status, string Message)
    {
        public override string ToString() => Message;
    }

    private bool IsToken(string? offered) => offered is { Length: > 0 and <= 128 }
        && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(offered)), _tokenHash);

    private static Task WriteRefusalAsync(HttpContext context, int status, string title, string message)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "text/html; charset=utf-8";
        return context.Response.WriteAsync(PortalLayout.Refusal(title, message), context.RequestAborted);
    }

    /// <summary>The host's loggers, less those that write the request line (with <c>?token=…</c>): hosting's request log and
    /// Kestrel's bad-request log.</summary>
    private sealed class WithoutRequestLog(ILoggerFactory inner) : ILoggerFactory
    {
        public ILogger CreateLogger(string categoryName) =>
            categoryName.StartsWith("Microsoft.AspNetCore.Hosting", StringComparison.Ordinal)
            || categoryName.StartsWith("Microsoft.AspNetCore.Server.Kestrel.BadRequests", StringComparison.Ordinal)
                ? NullLogger.Instance
                : inner.CreateLogger(categoryName);

        public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

        // The factory is the host's: it is not the portal's to dispose.
        public void Dispose()
        {
        }
    }

    private static string Base64Url(ReadOnlySpan<byte> bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}

/// <summary>The portal's log messages.</summary>
internal static partial class PortalLog
{
    [LoggerMessage(EventId = 40, Level = LogLevel.Warning, Message = "Portal refused {Method} {Path}: {Reason}")]
    public static partial void Refused(ILogger logger, string method, string path, string reason);

    [LoggerMessage(EventId = 41, Level = LogLevel.Error, Message = "Portal failed serving {Method} {Path}")]
    public static partial void Failed(ILogger logger, Exception exception, string method, string path);
}

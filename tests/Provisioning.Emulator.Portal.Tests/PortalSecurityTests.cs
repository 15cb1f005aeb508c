using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text.RegularExpressions;

using Microsoft.Playwright;

using static Microsoft.Playwright.Assertions;

namespace Provisioning.Emulator.Portal.Tests;

/// <summary>
/// Who may use the portal: only a holder of its access token, only from the portal's own pages. The HTTP tests need no
/// browser (and check TLS against the emulator CA); the browser tests show what a person, and a hostile page, would get.
/// </summary>
public sealed partial class PortalSecurityTests(PortalBrowser browser, PortalEmulator emulator)
    : IClassFixture<PortalBrowser>, IClassFixture<PortalEmulator>
{
    [Fact]
    public async Task RequestWithoutToken_IsRefused_AndShowsNothing()
    {
        using var client = Client();
        using var response = await client.GetAsync(emulator.Origin + "/enrollments", TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains("Access token needed", body, StringComparison.Ordinal);
        Assert.DoesNotContain(emulator.Dps.IdScope, body, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("/?token=wrong")]
    [InlineData("/live?region=registrations&token=")]
    public async Task RequestWithWrongToken_IsRefused(string path)
    {
        using var client = Client();
        using var response = await client.GetAsync(emulator.Origin + path, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.False(response.Headers.Contains("Set-Cookie"));
    }

    [Fact]
    public async Task TokenAddress_SetsAnHttpOnlySecureStrictCookie_AndRedirectsToTheAddressWithoutIt()
    {
        using var client = Client();
        using var response = await client.GetAsync(emulator.PortalUrl, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/", response.Headers.Location?.OriginalString);
        var cookie = Assert.Single(response.Headers.GetValues("Set-Cookie"));
        Assert.Contains("httponly", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("secure", cookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task TokenAddress_WithAPathABrowserReadsAsAnotherHost_RedirectsHome()
    {
        using var client = Client();
        using var response = await client.GetAsync(emulator.Origin + "//elsewhere.example/" + emulator.PortalUrl.Query, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/", response.Headers.Location?.OriginalString);
    }

    [Fact]
    public async Task RequestNamingAnotherHost_IsRefused()
    {
        using var client = Client(anyName: true);
        using var request = new HttpRequestMessage(HttpMethod.Get, emulator.Origin + "/");
        request.Headers.Host = "rebound.example:" + new Uri(emulator.Origin).Port;
        request.Headers.Add("Cookie", await CookieAsync(client));
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.MisdirectedRequest, response.StatusCode);
    }

    [Fact]
    public async Task Post_WithTheFormTokenFromThePortal_IsAccepted()
    {
        using var client = Client();
        var cookie = await CookieAsync(client);
        using var response = await PostAsync(client, cookie, await FormTokenAsync(client, cookie), origin: emulator.Origin, id: "portal-csrf-control");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.True(await EnrolledAsync(client, cookie, "portal-csrf-control"));
    }

    [Fact]
    public async Task Post_WithoutTheFormToken_IsRefused()
    {
        using var client = Client();
        var cookie = await CookieAsync(client);
        using var response = await PostAsync(client, cookie, formToken: null, origin: emulator.Origin, id: "portal-csrf-no-token");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.False(await EnrolledAsync(client, cookie, "portal-csrf-no-token"));
    }

    [Fact]
    public async Task Post_FromAnotherOrigin_IsRefused_EvenWithCookieAndFormToken()
    {
        using var client = Client();
        var cookie = await CookieAsync(client);
        using var response = await PostAsync(client, cookie, await FormTokenAsync(client, cookie), origin: "https://127.0.0.1:1", id: "portal-csrf-origin");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.False(await EnrolledAsync(client, cookie, "portal-csrf-origin"));
    }

    [Fact]
    public async Task Browser_PageWithoutToken_IsRefused()
    {
        browser.RequireOrSkip();
        await using var context = await browser.NewContextAsync();
        var page = await context.NewPageAsync();

        var response = await page.GotoAsync(emulator.Origin + "/registrations");

        Assert.Equal(401, response!.Status);
        await Expect(page.Locator("h1")).ToHaveTextAsync("Access token needed");
        await Artifacts.ScreenshotAsync(page, "08-refused-without-token");
    }

    [Fact]
    public async Task Browser_CrossSiteFormPost_IsRefused_AndChangesNothing()
    {
        browser.RequireOrSkip();
        await using var context = await browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(emulator.PortalUrl.ToString());
        await Expect(page.Locator("h1")).ToHaveTextAsync("Overview");

        // A hostile page on another site (another loopback origin, served by the test) posts a form to the portal on load.
        const string Hostile = "https://127.0.0.1:1/";
        await page.RouteAsync(Hostile, route => route.FulfillAsync(new RouteFulfillOptions
        {
            ContentType = "text/html",
            Body = $"""
                <form id="f" method="post" action="{emulator.Origin}/enrollments/add">
                <input name="mechanism" value="symmetricKey"><input name="id" value="portal-cross-site"><input name="enabled" value="true"></form>
                <script>document.getElementById('f').submit();</script>
                """,
        }));
        var refused = page.WaitForResponseAsync(r => r.Url.StartsWith(emulator.Origin + "/enrollments/add", StringComparison.Ordinal));
        await page.GotoAsync(Hostile);
        var response = await refused;

        Assert.True(response.Status is 401 or 403, $"the cross-site POST got {response.Status}");
        await Expect(page.Locator("h1")).ToHaveTextAsync(new Regex("Access token needed|Form refused"));
        await Artifacts.ScreenshotAsync(page, "09-cross-site-post-refused");
        await page.GotoAsync(emulator.Origin + "/enrollments");
        await Expect(page.Locator("h1")).ToHaveTextAsync("Individual enrollments");
        Assert.DoesNotContain("portal-cross-site", await page.ContentAsync(), StringComparison.Ordinal);
    }

    /// <summary>A client that trusts only the emulator's CA: the portal's certificate must chain to it and name localhost.</summary>
    /// <remarks><paramref name="anyName"/>: the chain is still checked, not the name (a test that sends another Host header).</remarks>
    private HttpClient Client(bool anyName = false, X509Certificate2? authority = null)
    {
        var ca = authority ?? emulator.Dps.CertificateAuthority.Certificate;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            SslOptions = new System.Net.Security.SslClientAuthenticationOptions
            {
                RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
                {
                    var tolerated = System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors
                        | (anyName ? System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch : 0);
                    if (certificate is null || (errors & ~tolerated) != 0)
                    {
                        return false;
                    }

                    using var chain = new X509Chain();
                    chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                    chain.ChainPolicy.CustomTrustStore.Add(ca);
                    chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                    return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
                },
            },
        };
        return new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(30) };
    }

    private async Task<string> CookieAsync(HttpClient client)
    {
        using var response = await client.GetAsync(emulator.PortalUrl, TestContext.Current.CancellationToken);
        return response.Headers.GetValues("Set-Cookie").Single().Split(';')[0];
    }

    private async Task<string> FormTokenAsync(HttpClient client, string cookie)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, emulator.Origin + "/enrollments");
        request.Headers.Add("Cookie", cookie);
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        var page = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return FormTokenField().Match(page).Groups[1].Value;
    }

    private async Task<HttpResponseMessage> PostAsync(HttpClient client, string cookie, string? formToken, string origin, string id)
    {
        var fields = new List<KeyValuePair<string, string>> { new("mechanism", "symmetricKey"), new("id", id), new("enabled", "true") };
        if (formToken is not null)
        {
            fields.Add(new("_form", formToken));
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, emulator.Origin + "/enrollments/add") { Content = new FormUrlEncodedContent(fields) };
        request.Headers.Add("Cookie", cookie);
        request.Headers.Add("Origin", origin);
        return await client.SendAsync(request, TestContext.Current.CancellationToken);
    }

    private async Task<bool> EnrolledAsync(HttpClient client, string cookie, string id)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, emulator.Origin + "/enrollments/view?id=" + id);
        request.Headers.Add("Cookie", cookie);
        using var response = await client.SendAsync(request, TestContext.Current.CancellationToken);
        return response.StatusCode == HttpStatusCode.OK;
    }

    [GeneratedRegex("name=\"_form\" value=\"([^\"]+)\"")]
    private static partial Regex FormTokenField();
}

using Microsoft.Playwright;

namespace Provisioning.Emulator.Portal.Tests;

/// <summary>
/// One headless Chromium per test class, driven by Playwright for .NET: Debian's Chromium (<c>apt-get install chromium</c>),
/// never a downloaded browser. Without it the browser tests skip, saying why; with <c>PROVISIONING_REQUIRE_BROWSER=1</c> or
/// <c>PROVISIONING_REQUIRE_SWTPM=1</c> (both set by <c>.ci/run</c>) they fail instead.
/// </summary>
public sealed class PortalBrowser : IAsyncLifetime
{
    /// <summary>The environment variable that turns a missing Chromium into a failure.</summary>
    public const string RequireVariable = "PROVISIONING_REQUIRE_BROWSER";

    /// <summary>Where Debian puts the browser binary (<c>/usr/bin/chromium</c> is a wrapper script around it).</summary>
    public static string ExecutablePath => Environment.GetEnvironmentVariable("PROVISIONING_CHROMIUM") is { Length: > 0 } path ? path : "/usr/lib/chromium/chromium";

    private IPlaywright? _playwright;
    private IBrowser? _browser;
    private string? _missing;

    public IBrowser Browser => _browser ?? throw new InvalidOperationException("Call RequireOrSkip first.");

    /// <summary>Skips the calling test when Chromium is missing (fails under CI).</summary>
    public void RequireOrSkip()
    {
        if (_missing is null)
        {
            return;
        }

        if (Environment.GetEnvironmentVariable(RequireVariable) == "1" || Environment.GetEnvironmentVariable("PROVISIONING_REQUIRE_SWTPM") == "1")
        {
            Assert.Fail($"{RequireVariable}=1 (or PROVISIONING_REQUIRE_SWTPM=1) but {_missing}");
        }

        Assert.Skip(_missing);
    }

    /// <summary>A fresh context (its own cookies): the emulator's certificate is checked by the HTTP tests, not by the browser.</summary>
    public async Task<IBrowserContext> NewContextAsync()
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions
        {
            IgnoreHTTPSErrors = true,
            ViewportSize = new ViewportSize { Width = 1360, Height = 900 },
            DeviceScaleFactor = 1,
        });

        // Deadlines, not timings: generous enough for a machine under load (CI shares two cores with builds).
        context.SetDefaultTimeout(60_000);
        context.SetDefaultNavigationTimeout(60_000);
        return context;
    }

    public async ValueTask InitializeAsync()
    {
        if (!File.Exists(ExecutablePath))
        {
            _missing = $"Chromium is not installed at {ExecutablePath} (apt-get install chromium); the portal's browser tests need it.";
            return;
        }

        Assertions.SetDefaultExpectTimeout(30_000);
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions { Headless = true, ExecutablePath = ExecutablePath });
    }

    public async ValueTask DisposeAsync()
    {
        if (_browser is not null)
        {
            await _browser.CloseAsync();
        }

        _playwright?.Dispose();
    }
}

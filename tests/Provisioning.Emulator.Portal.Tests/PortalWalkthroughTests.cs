using System.Text.Json;
using System.Text.RegularExpressions;

using Microsoft.Playwright;

using Provisioning.Testing;

using static Microsoft.Playwright.Assertions;

namespace Provisioning.Emulator.Portal.Tests;

/// <summary>
/// The README's TPM walk-through in a real browser: TpmDeviceProvision prints the device's registration id and EK, the
/// operator pastes them into the portal, FirstBoot boots with <c>--emulator</c> (no <c>--enroll</c>), and the registration and
/// the telemetry appear on the open pages without a reload.
/// </summary>
public sealed partial class PortalWalkthroughTests(PortalBrowser browser, PortalEmulator emulator)
    : IClassFixture<PortalBrowser>, IClassFixture<PortalEmulator>, IDisposable
{
    private static readonly LocatorAssertionsToContainTextOptions Patiently = new() { Timeout = 60_000 };
    private readonly string _home = Path.Combine(Path.GetTempPath(), "provisioning-portal-tests", "home-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task TpmDevice_PastedIntoThePortal_RegistersAndItsTelemetryAppearsLive()
    {
        browser.RequireOrSkip();
        var cancel = TestContext.Current.CancellationToken;
        Directory.CreateDirectory(_home);
        var tpm = "software:" + Path.Combine(_home, "tpm");

        // 1. The device's identity, as the operator reads it.
        var shown = await RunAsync(Artifacts.TpmDeviceProvisionDll, ["--tpm", tpm], cancel);
        Assert.True(shown.ExitCode == 0, shown.ToString());
        var registrationId = RegistrationIdLine().Match(shown.StandardOutput).Groups[1].Value;
        var endorsementKeyLine = EndorsementKeyLine().Match(shown.StandardOutput).Value.Trim();
        Assert.NotEmpty(registrationId);
        Assert.NotEmpty(endorsementKeyLine);

        await using var context = await browser.NewContextAsync();
        var page = await context.NewPageAsync();

        // 2. The portal, opened with the address from emulator.json: the token moves into a cookie and out of the address.
        await page.GotoAsync(emulator.PortalUrl.ToString());
        await Expect(page).ToHaveURLAsync(emulator.Origin + "/");
        await Expect(page.Locator("h1")).ToHaveTextAsync("Overview");
        await Expect(page.Locator("main")).ToContainTextAsync(emulator.Dps.IdScope);
        await Artifacts.ScreenshotAsync(page, "01-overview");

        // 3. Paste what TpmDeviceProvision printed: the registration id and the Endorsement Key line.
        await page.Locator("nav").GetByRole(AriaRole.Link, new() { Name = "Individual enrollments" }).ClickAsync();
        await page.GetByLabel("TPM", new() { Exact = true }).CheckAsync();
        await page.Locator("textarea[name=endorsementKey]").FillAsync(endorsementKeyLine);
        await page.Locator("#add input[name=id]").FillAsync(registrationId);
        await page.Locator("textarea[name=initialTwin]").FillAsync("{\"tags\":{\"site\":\"lab\"},\"properties\":{\"desired\":{\"interval\":30}}}");
        await Artifacts.ScreenshotAsync(page, "02-add-tpm-enrollment");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add enrollment" }).ClickAsync();
        await Expect(page.Locator(".notice.ok")).ToContainTextAsync($"Added '{registrationId}'");
        await Expect(page.Locator("main")).ToContainTextAsync("TPM 2.0");
        await Artifacts.ScreenshotAsync(page, "03-tpm-enrollment");

        // 4. Watch the registrations page while the device boots with --emulator and no --enroll.
        await page.Locator("nav").GetByRole(AriaRole.Link, new() { Name = "Registrations" }).ClickAsync();
        await Expect(page.Locator("main")).ToContainTextAsync("No device has registered yet");
        var boot = await RunAsync(Artifacts.FirstBootDll, ["--emulator", emulator.InfoFile, "--tpm", tpm, "--state", Path.Combine(_home, "state"), "--json"], cancel);
        Assert.True(boot.ExitCode == 0, boot.ToString());
        using var report = JsonDocument.Parse(boot.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Last());
        var hub = report.RootElement.GetProperty("assignedHub").GetString()!;
        var deviceId = report.RootElement.GetProperty("deviceId").GetString()!;

        var row = page.Locator($"tr[data-status=assigned]:has(code:text-is(\"{registrationId}\"))");
        await Expect(row).ToContainTextAsync(hub, new() { Timeout = 60_000 });
        await Expect(row).ToContainTextAsync("assigned");
        await Artifacts.ScreenshotAsync(page, "04-registrations");

        // 5. The hub page: the device and its first message.
        await row.GetByRole(AriaRole.Link, new() { Name = hub }).ClickAsync();
        await Expect(page.Locator("h1")).ToHaveTextAsync(hub);
        await Expect(page.Locator("table.telemetry")).ToContainTextAsync(deviceId, Patiently);
        await Artifacts.ScreenshotAsync(page, "05-hub-telemetry");

        await page.Locator("table.telemetry").GetByRole(AriaRole.Link, new() { Name = deviceId }).ClickAsync();
        await Expect(page.Locator("main")).ToContainTextAsync("TPM (SAS signed in the TPM)");
        await Expect(page.Locator("textarea[name=desired]")).ToHaveValueAsync(new Regex("\"interval\": 30"));

        // The desired properties, edited in place, become a patch the hub keeps for the device.
        await page.Locator("textarea[name=desired]").FillAsync("{\"interval\": 60, \"mode\": \"eco\"}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save desired properties" }).ClickAsync();
        await Expect(page.Locator(".notice.ok")).ToContainTextAsync("Desired properties saved");
        var twin = await emulator.Dps.GetHub(hub).GetTwinAsync(deviceId, cancel);
        using var desired = JsonDocument.Parse(twin.DesiredJson);
        Assert.Equal(60, desired.RootElement.GetProperty("interval").GetInt32());
        Assert.Equal("eco", desired.RootElement.GetProperty("mode").GetString());
        await Artifacts.ScreenshotAsync(page, "06-device");
    }

    [Fact]
    public async Task SymmetricKeyEnrollment_KeysAreMaskedUntilAskedFor()
    {
        browser.RequireOrSkip();
        await using var context = await browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(emulator.PortalUrl.ToString());
        await page.GotoAsync(emulator.Origin + "/enrollments");
        await page.GetByLabel("Symmetric key").CheckAsync();
        await page.Locator("#add input[name=id]").FillAsync("portal-symmetric-01");
        await page.GetByLabel("Enter keys").CheckAsync();
        const string Primary = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        await page.Locator("input[name=primaryKey]").FillAsync(Primary);
        await page.GetByRole(AriaRole.Button, new() { Name = "Add enrollment" }).ClickAsync();

        await Expect(page.Locator(".notice.ok")).ToContainTextAsync("Added 'portal-symmetric-01'");
        Assert.DoesNotContain(Primary, await page.ContentAsync(), StringComparison.Ordinal);
        await page.GetByRole(AriaRole.Link, new() { Name = "Show keys" }).ClickAsync();
        await Expect(page.Locator("main")).ToContainTextAsync(Primary);
        await Artifacts.ScreenshotAsync(page, "07-symmetric-keys-shown");
    }

    public void Dispose()
    {
        if (Directory.Exists(_home))
        {
            Directory.Delete(_home, recursive: true);
        }
    }

    private Task<ProcessResult> RunAsync(string dll, IEnumerable<string> arguments, CancellationToken cancellationToken) => ProcessRunner.RunAsync(
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet",
        [dll, .. arguments],
        environment: new Dictionary<string, string> { ["HOME"] = _home, ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" },
        timeout: TimeSpan.FromSeconds(120),
        cancellationToken: cancellationToken);

    [GeneratedRegex(@"^Registration Id:\s*(\S+)", RegexOptions.Multiline)]
    private static partial Regex RegistrationIdLine();

    [GeneratedRegex(@"^Endorsement Key:\s*\S+", RegexOptions.Multiline)]
    private static partial Regex EndorsementKeyLine();
}

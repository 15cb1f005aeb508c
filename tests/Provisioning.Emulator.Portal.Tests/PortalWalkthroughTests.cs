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

        // The device has gone (FirstBoot ended): a message waits in its queue, and a method answers 404.
        await page.Locator("textarea[name=body]").FillAsync("{\"command\":\"blink\"}");
        await page.GetByRole(AriaRole.Button, new() { Name = "Send message" }).ClickAsync();
        await Expect(page.Locator(".notice.ok")).ToContainTextAsync("queued");
        Assert.Equal(1, emulator.Dps.GetHub(hub).GetCloudToDeviceQueueLength(deviceId));
        await page.GetByRole(AriaRole.Button, new() { Name = "Invoke method" }).ClickAsync();
        await Expect(page.Locator("#result")).ToContainTextAsync("The device is not online.");
        await Artifacts.ScreenshotAsync(page, "06-device");

        await page.Locator("nav").GetByRole(AriaRole.Link, new() { Name = "Overview" }).ClickAsync();
        await Expect(page.Locator(".stats")).ToContainTextAsync("registrations assigned");
        await Artifacts.ScreenshotAsync(page, "12-overview-after-boot");
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

    [Fact]
    public async Task X509Group_ByCertificateUpload_AndAFaultRule_AddedAndRemoved()
    {
        browser.RequireOrSkip();
        using var key = System.Security.Cryptography.ECDsa.Create();
        var request = new System.Security.Cryptography.X509Certificates.CertificateRequest("CN=Portal Test Root", key, System.Security.Cryptography.HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new System.Security.Cryptography.X509Certificates.X509BasicConstraintsExtension(true, false, 0, true));
        using var root = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));

        await using var context = await browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(emulator.PortalUrl.ToString());
        await page.Locator("nav").GetByRole(AriaRole.Link, new() { Name = "Enrollment groups" }).ClickAsync();
        await page.GetByLabel("X.509 certificate").CheckAsync();
        await page.Locator("#add input[name=id]").FillAsync("portal-x509-fleet");
        await page.Locator("input[name=certificate]").SetInputFilesAsync(new FilePayload
        {
            Name = "root.pem",
            MimeType = "application/x-pem-file",
            Buffer = System.Text.Encoding.ASCII.GetBytes(root.ExportCertificatePem()),
        });
        await page.GetByLabel("hub2.localhost").CheckAsync();
        await page.Locator("select[name=allocation]").SelectOptionAsync("static");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add enrollment group" }).ClickAsync();
        await Expect(page.Locator(".notice.ok")).ToContainTextAsync("Added 'portal-x509-fleet'");
        await Expect(page.Locator("main")).ToContainTextAsync("CN=Portal Test Root");
        await Expect(page.Locator("main")).ToContainTextAsync(root.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256));
        await page.Locator("nav").GetByRole(AriaRole.Link, new() { Name = "Enrollment groups" }).ClickAsync();
        await Expect(page.Locator("tr[data-key=portal-x509-fleet]")).ToContainTextAsync("static");
        await Artifacts.ScreenshotAsync(page, "10-enrollment-groups");

        await page.Locator("nav").GetByRole(AriaRole.Link, new() { Name = "Fault rules" }).ClickAsync();
        await page.Locator("select[name=kind]").SelectOptionAsync("ServiceUnavailable");
        await page.Locator("input[name=after]").FillAsync("2");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add rule" }).ClickAsync();
        await Expect(page.Locator(".notice.ok")).ToContainTextAsync("Fault rule added");
        var row = page.Locator("main table tbody tr");
        await Expect(row).ToHaveCountAsync(1);
        await Expect(row).ToContainTextAsync("Register");
        await Expect(row).ToContainTextAsync("503, Retry-After 1 s");
        await Artifacts.ScreenshotAsync(page, "11-fault-rules");
        await page.GetByRole(AriaRole.Button, new() { Name = "Remove", Exact = true }).ClickAsync();
        await Expect(page.Locator(".notice.ok")).ToContainTextAsync("Fault rule removed");
        await Expect(page.Locator("main")).ToContainTextAsync("No fault rules");
    }

    [Fact]
    public async Task UnenrolledDevice_ItsRefusedRequestAppearsOnTheRegistrationsPage()
    {
        browser.RequireOrSkip();
        await using var context = await browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(emulator.PortalUrl.ToString());
        await page.GotoAsync(emulator.Origin + "/registrations");
        await Expect(page.Locator("h1")).ToHaveTextAsync("Registrations");

        // A device that nobody enrolled asks DPS anyway (HTTPS, the emulator's CA trusted): 401, and the open page shows it.
        using var handler = new SocketsHttpHandler();
        var ca = emulator.Dps.CertificateAuthority.Certificate;
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
        {
            using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
            chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(ca);
            chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
            return certificate is not null && (errors & ~System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors) == 0
                && chain.Build(System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        };
        using var client = new HttpClient(handler);
        using var body = new StringContent("{\"registrationId\":\"portal-not-enrolled\"}", System.Text.Encoding.UTF8, "application/json");
        using var refused = await client.PutAsync(
            new Uri(emulator.Dps.GlobalEndpoint, $"{emulator.Dps.IdScope}/registrations/portal-not-enrolled/register?api-version=2021-06-01"), body,
            TestContext.Current.CancellationToken);
        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, refused.StatusCode);

        var row = page.Locator("tr:has(code:text-is(\"portal-not-enrolled\"))");
        await Expect(row).ToContainTextAsync("401");
        // "this registration id is not enrolled", or, once another test of the class added a group, "no individual enrollment,
        // and no group accepted the credential": the reason names the missing enrollment either way.
        await Expect(row).ToContainTextAsync("enroll");
        await Artifacts.ScreenshotAsync(page, "13-refused-requests");
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

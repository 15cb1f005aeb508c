using System.Text.Json;

namespace Provisioning.Emulator.Portal.Tests;

/// <summary>The emulator in-process with its portal on, in a temporary data folder (so <c>emulator.json</c> is written for
/// FirstBoot's <c>--emulator</c>), with the short Retry-After the samples use.</summary>
public sealed class PortalEmulator : IAsyncLifetime
{
    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "provisioning-portal-tests", Guid.NewGuid().ToString("N"));

    public DpsEmulator Dps { get; private set; } = null!;

    public string InfoFile => Path.Combine(DataDirectory, DpsEmulator.InfoFileName);

    /// <summary>The <c>portalUrl</c> of <c>emulator.json</c>: the address with its token.</summary>
    public Uri PortalUrl { get; private set; } = null!;

    /// <summary><c>https://localhost:{port}</c>.</summary>
    public string Origin => PortalUrl.GetLeftPart(UriPartial.Authority);

    public async ValueTask InitializeAsync()
    {
        // The emulator refuses a data folder others can open (it holds every key): owner-only, as it would create it itself.
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(DataDirectory);
        }
        else
        {
            Directory.CreateDirectory(DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var options = new DpsEmulatorOptions
        {
            DataDirectory = DataDirectory,
            RetryAfter = TimeSpan.FromSeconds(1),
            PortalPort = 0,
        };
        options.Hubs.Add(new LinkedHub("hub1.localhost"));
        options.Hubs.Add(new LinkedHub("hub2.localhost"));
        Dps = await DpsEmulator.StartAsync(options, TestContext.Current.CancellationToken);
        using var info = JsonDocument.Parse(await File.ReadAllTextAsync(InfoFile, TestContext.Current.CancellationToken));
        PortalUrl = new Uri(info.RootElement.GetProperty("portalUrl").GetString()!);
    }

    public async ValueTask DisposeAsync()
    {
        await Dps.DisposeAsync();
        Directory.Delete(DataDirectory, recursive: true);
    }
}

using System.IO.Compression;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Xml.Linq;
using Provisioning.Testing;

namespace Provisioning.Samples.Tests;

/// <summary>The library packages as NuGet shows them: packed (<c>dotnet pack --no-build</c>), their nuspec read.</summary>
public sealed class PackageMetadataTests : IDisposable
{
    private readonly string _feed = Path.Combine(Path.GetTempPath(), "provisioning-package-tests", Guid.NewGuid().ToString("N"));

    public static TheoryData<string> Packages() => new("Provisioning.Device", "Provisioning.Device.Hub", "Provisioning.Device.Tpm", "Provisioning.Device.Hosting", "Provisioning.Emulator");

    public void Dispose()
    {
        if (Directory.Exists(_feed))
        {
            Directory.Delete(_feed, recursive: true);
        }
    }

    [Theory]
    [MemberData(nameof(Packages))]
    public async Task Package_CarriesReadmeTagsReleaseNotes_AndPinsOurOwnDependencies(string id)
    {
        var project = Path.Combine(Metadata("SourceRoot"), id, id + ".csproj");
        var pack = await ProcessRunner.RunAsync(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet",
            ["pack", project, "--no-build", "-c", Metadata("Configuration"), "-o", _feed, "-nologo"],
            environment: new Dictionary<string, string> { ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" }, timeout: TimeSpan.FromMinutes(3),
            cancellationToken: TestContext.Current.CancellationToken);
        Assert.True(pack.ExitCode == 0, $"dotnet pack failed:\n{pack.StandardOutput}\n{pack.StandardError}");

        using var package = ZipFile.OpenRead(Path.Combine(_feed, $"{id}.0.1.0.nupkg"));
        XDocument nuspec;
        using (var nuspecStream = package.Entries.Single(e => e.FullName == id + ".nuspec").Open())
        {
            nuspec = XDocument.Load(nuspecStream);
        }

        var ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;

        Assert.Equal("README.md", metadata.Element(ns + "readme")?.Value);
        Assert.NotNull(package.GetEntry("README.md"));
        Assert.Contains("tpm", metadata.Element(ns + "tags")?.Value ?? string.Empty, StringComparison.Ordinal);
        Assert.StartsWith("0.1.0: ", metadata.Element(ns + "releaseNotes")?.Value ?? string.Empty, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")?.Value));
        foreach (var dependency in metadata.Descendants(ns + "dependency").Where(d => d.Attribute("id")!.Value.StartsWith("Provisioning.", StringComparison.Ordinal)))
        {
            Assert.Equal("[0.1.0]", dependency.Attribute("version")!.Value); // exactly the version built and tested together
        }
    }

    [Fact]
    public void ShippedAssemblies_ExposeInternalsToTestsOnly()
    {
        Assembly[] shipped =
        [
            typeof(Provisioning.Device.ProvisioningDeviceClient).Assembly, typeof(Provisioning.Device.Hub.DeviceClient).Assembly,
            typeof(Provisioning.Device.Tpm.TpmIdentity).Assembly, typeof(Provisioning.Emulator.DpsEmulator).Assembly,
            typeof(Provisioning.Device.Hosting.DeviceConnection).Assembly,
        ];
        foreach (var assembly in shipped)
        {
            foreach (var friend in assembly.GetCustomAttributes<InternalsVisibleToAttribute>())
            {
                // Test projects, and the fuzz harness (tests/Provisioning.Fuzzing, never packed), reach internal parsers.
                Assert.True(friend.AssemblyName.EndsWith(".Tests", StringComparison.Ordinal) || friend.AssemblyName == "Provisioning.Fuzzing",
                    $"{assembly.GetName().Name} exposes its internals to {friend.AssemblyName}, which is not a test project");
            }
        }
    }

    private static string Metadata(string key) =>
        typeof(PackageMetadataTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}

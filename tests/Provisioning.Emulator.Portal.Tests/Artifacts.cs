using System.Reflection;

using Microsoft.Playwright;

namespace Provisioning.Emulator.Portal.Tests;

/// <summary>Where the tests keep what a person should look at: screenshots in <c>TestResults/portal</c> at the repository root.</summary>
internal static class Artifacts
{
    public static string Directory { get; } = Find();

    public static Task ScreenshotAsync(IPage page, string name) => page.ScreenshotAsync(new PageScreenshotOptions
    {
        Path = Path.Combine(Directory, name + ".png"),
        FullPage = true,
    });

    public static string FirstBootDll => Dll("FirstBootDll");

    public static string TpmDeviceProvisionDll => Dll("TpmDeviceProvisionDll");

    private static string Find()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Provisioning.Device.sln")))
        {
            directory = directory.Parent;
        }

        var root = Path.Combine(directory?.FullName ?? Path.GetTempPath(), "TestResults", "portal");
        System.IO.Directory.CreateDirectory(root);
        return root;
    }

    private static string Dll(string key)
    {
        var path = typeof(Artifacts).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
        return File.Exists(path) ? Path.GetFullPath(path) : throw new FileNotFoundException($"The sample was not built where expected: {path}");
    }
}

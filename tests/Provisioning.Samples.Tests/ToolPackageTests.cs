using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using Provisioning.Testing;

namespace Provisioning.Samples.Tests;

/// <summary>
/// The two .NET tools as a user gets them: packed (<c>dotnet pack</c>), installed from that folder into a temporary tool path
/// (<c>dotnet tool install --tool-path … --add-source …</c>) and run by their command names.
/// </summary>
public sealed class ToolPackageTests : IDisposable
{
    private readonly string _root = Path.Combine(Path.GetTempPath(), "provisioning-tool-tests", Guid.NewGuid().ToString("N"));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Dotnet => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";

    /// <summary>The tool shims find the runtime through DOTNET_ROOT, as on a machine where the SDK is not on a default path.</summary>
    private static Dictionary<string, string> ToolEnvironment => new()
    {
        ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
        ["DOTNET_NOLOGO"] = "1",
        ["DOTNET_ROOT"] = Path.GetDirectoryName(Path.GetFullPath(ResolveDotnet()))!,
    };

    public void Dispose()
    {
        if (Directory.Exists(_root))
        {
            Directory.Delete(_root, recursive: true);
        }
    }

    [Fact]
    public async Task TpmDeviceProvision_PacksInstallsAndRuns_AsTpmDeviceProvision()
    {
        var tools = await PackAndInstallAsync("TpmToolProject", "Provisioning.Device.TpmDeviceProvision");
        var state = Path.Combine(_root, "tpm");

        var first = await ProcessRunner.RunAsync(Path.Combine(tools, "tpm-device-provision"), ["--tpm", "software:" + state],
            environment: ToolEnvironment, timeout: TimeSpan.FromSeconds(60), cancellationToken: Ct);
        var second = await ProcessRunner.RunAsync(Path.Combine(tools, "tpm-device-provision"), ["--tpm", "software:" + state],
            environment: ToolEnvironment, timeout: TimeSpan.FromSeconds(60), cancellationToken: Ct);

        Assert.True(first.ExitCode == 0, first.StandardError);
        Assert.StartsWith("Registration Id: ", first.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("Endorsement Key: ", first.StandardOutput, StringComparison.Ordinal);
        Assert.Contains("Storage Root Key: ", first.StandardOutput, StringComparison.Ordinal);
        Assert.Equal(first.StandardOutput, second.StandardOutput); // the persisted TPM: same keys, nothing created twice
    }

    [Fact]
    public async Task DpsEmulator_PacksInstallsAndRuns_AsDpsEmulator_WithSqliteIncluded()
    {
        var tools = await PackAndInstallAsync("EmulatorToolProject", "Provisioning.Emulator.Tool");
        var data = Path.Combine(_root, "data");

        var help = await ProcessRunner.RunAsync(Path.Combine(tools, "dps-emulator"), ["--help"], environment: ToolEnvironment, cancellationToken: Ct);
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--data <dir>", help.StandardOutput, StringComparison.Ordinal);

        // Two runs on one data folder: the second reads the ID scope the first stored in SQLite (the native library is in the package).
        var firstScope = await RunUntilReadyAsync(tools, data);
        Assert.True(File.Exists(Path.Combine(data, "emulator.db")), string.Join(", ", Directory.GetFiles(data)));
        var secondScope = await RunUntilReadyAsync(tools, data);
        Assert.Equal(firstScope, secondScope);
    }

    private async Task<string> PackAndInstallAsync(string projectKey, string packageId)
    {
        var feed = Path.Combine(_root, "feed");
        var tools = Path.Combine(_root, "tools");
        var configuration = Metadata("Configuration");
        var pack = await ProcessRunner.RunAsync(Dotnet, ["pack", Metadata(projectKey), "--no-build", "-c", configuration, "-o", feed, "-nologo"],
            environment: ToolEnvironment, timeout: TimeSpan.FromMinutes(3), cancellationToken: Ct);
        Assert.True(pack.ExitCode == 0, $"dotnet pack failed:\n{pack.StandardOutput}\n{pack.StandardError}");

        var install = await ProcessRunner.RunAsync(Dotnet,
            ["tool", "install", packageId, "--version", "0.1.0", "--tool-path", tools, "--add-source", feed],
            environment: ToolEnvironment, timeout: TimeSpan.FromMinutes(3), cancellationToken: Ct);
        Assert.True(install.ExitCode == 0, $"dotnet tool install failed:\n{install.StandardOutput}\n{install.StandardError}");
        return tools;
    }

    /// <summary>Starts <c>dps-emulator --data …</c>, waits for the JSON it prints once started, stops it, returns the ID scope.</summary>
    private static async Task<string> RunUntilReadyAsync(string tools, string data)
    {
        var start = new ProcessStartInfo(Path.Combine(tools, "dps-emulator")) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "--data", data, "--hubs", "1" })
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (key, value) in ToolEnvironment)
        {
            start.Environment[key] = value;
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dps-emulator did not start");
        var errors = process.StandardError.ReadToEndAsync(Ct);
        try
        {
            using var guard = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            guard.CancelAfter(TimeSpan.FromSeconds(60)); // a hang guard, not a timed assertion
            // The host prints its emulator.json once started (indented): read lines until they make one JSON object.
            var text = new System.Text.StringBuilder();
            while (await process.StandardOutput.ReadLineAsync(guard.Token) is { } line)
            {
                text.AppendLine(line);
                if (line == "}")
                {
                    using var json = JsonDocument.Parse(text.ToString());
                    return json.RootElement.GetProperty("idScope").GetString()!;
                }
            }

            throw new Xunit.Sdk.XunitException($"dps-emulator ended without printing its JSON (exit {(process.HasExited ? process.ExitCode : -1)}):\n{text}");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }

            await process.WaitForExitAsync(CancellationToken.None);
            _ = await errors;
        }
    }

    private static string ResolveDotnet()
    {
        var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (host is not null)
        {
            return host;
        }

        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(Path.PathSeparator))
        {
            var candidate = Path.Combine(folder, "dotnet");
            if (File.Exists(candidate))
            {
                return new FileInfo(candidate).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? candidate;
            }
        }

        return "dotnet";
    }

    private static string Metadata(string key) =>
        typeof(ToolPackageTests).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
}

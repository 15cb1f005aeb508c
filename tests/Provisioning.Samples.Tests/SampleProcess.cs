using System.Reflection;
using System.Text.Json;

using Provisioning.Testing;

namespace Provisioning.Samples.Tests;

/// <summary>Runs a built sample as its own process (<c>dotnet &lt;dll&gt;</c>) with a private HOME, and reads its JSON line.</summary>
internal static class SampleProcess
{
    public static string FirstBootDll => Dll("FirstBootDll");

    public static string FleetSimulatorDll => Dll("FleetSimulatorDll");

    public static string WorkerDeviceDll => Dll("WorkerDeviceDll");

    public static string TpmDeviceProvisionDll => Dll("TpmDeviceProvisionDll");

    public static string DeviceOnlyDll => Dll("DeviceOnlyDll");

    /// <summary>samples/DeviceOnly/DeviceOnly.order, the native code layout of the small-device sample.</summary>
    public static string DeviceOnlyOrderFile => Dll("DeviceOnlyOrderFile");

    public static async Task<SampleRun> RunAsync(string dll, string home, IEnumerable<string> arguments, TimeSpan? timeout = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var variables = new Dictionary<string, string> { ["HOME"] = home, ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1" };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            variables[name] = value;
        }

        // The dotnet CLI tells its children which host it is (DOTNET_HOST_PATH): the same runtime runs the sample.
        var result = await ProcessRunner.RunAsync(
            Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet",
            [dll, .. arguments],
            environment: variables,
            timeout: timeout ?? TimeSpan.FromSeconds(90),
            cancellationToken: TestContext.Current.CancellationToken);
        return new SampleRun(result);
    }

    /// <summary>A fresh folder standing in for the user's home, so no test touches the real one.</summary>
    public static string NewHome()
    {
        var home = Path.Combine(Path.GetTempPath(), "provisioning-samples-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(home);
        return home;
    }

    private static string Dll(string key)
    {
        var path = typeof(SampleProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().Single(a => a.Key == key).Value!;
        return File.Exists(path) ? Path.GetFullPath(path) : throw new FileNotFoundException($"Not found where expected (is the sample built?): {path}");
    }
}

/// <summary>A finished sample run.</summary>
internal sealed class SampleRun(ProcessResult result)
{
    public int ExitCode => result.ExitCode;

    public string Output => result.StandardOutput;

    public string Error => result.StandardError;

    /// <summary>The last line of standard output, parsed: the <c>--json</c> contract.</summary>
    public JsonElement Json
    {
        get
        {
            var last = Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault()
                ?? throw new Xunit.Sdk.XunitException($"No output.\nstderr: {Error}");
            try
            {
                using var document = JsonDocument.Parse(last);
                return document.RootElement.Clone();
            }
            catch (JsonException ex)
            {
                throw new Xunit.Sdk.XunitException($"The last line is not JSON: {last}\n{ex.Message}\nstdout: {Output}\nstderr: {Error}");
            }
        }
    }

    public string? Text(string property) => Json.TryGetProperty(property, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public override string ToString() => $"exit {ExitCode}\nstdout:\n{Output}\nstderr:\n{Error}";
}

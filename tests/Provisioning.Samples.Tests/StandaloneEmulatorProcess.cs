using System.Diagnostics;
using System.Text;
using System.Text.Json;

namespace Provisioning.Samples.Tests;

/// <summary>
/// The emulator host run as its own process, as the README tells a person to (<c>dotnet Provisioning.Emulator.dll --data
/// &lt;dir&gt;</c>, every port chosen by the OS), in a temporary data folder; ready once its <c>emulator.json</c> is complete.
/// </summary>
public sealed class StandaloneEmulatorProcess : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly StringBuilder _log = new();
    private Process? _process;

    public string DataDirectory { get; } = Path.Combine(Path.GetTempPath(), "provisioning-samples-tests", "emulator-" + Guid.NewGuid().ToString("N"));

    public string InfoFile => Path.Combine(DataDirectory, "emulator.json");

    /// <summary>The data folder the README's commands name.</summary>
    public const string ReadmeDataDirectory = "./.emulator";

    /// <summary>The arguments after <c>--</c> of the <c>dotnet run --project {project} -- …</c> line in the README's
    /// "Run the emulator on its own" section: the tests run the commands the README gives.</summary>
    public static string[] ReadmeCommand(string project)
    {
        var readme = File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "README.md")).ReplaceLineEndings("\n");
        var start = readme.IndexOf("### Run the emulator on its own", StringComparison.Ordinal);
        Assert.True(start >= 0, "the README has no 'Run the emulator on its own' section");
        var end = readme.IndexOf("\n#", start + 1, StringComparison.Ordinal);
        var section = readme[start..(end < 0 ? readme.Length : end)];
        var prefix = $"dotnet run --project {project} -- ";
        var line = section.Split('\n').SingleOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        Assert.True(line is not null, $"the README's 'Run the emulator on its own' has no '{prefix}…' line");
        return line[prefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>The host's output so far, for failure messages.</summary>
    public string Log
    {
        get
        {
            lock (_log)
            {
                return _log.ToString();
            }
        }
    }

    public async ValueTask InitializeAsync()
    {
        // FirstBoot references the emulator, so its output folder holds the host with its runtimeconfig and dependencies.
        var host = Path.Combine(Path.GetDirectoryName(SampleProcess.FirstBootDll)!, "Provisioning.Emulator.dll");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        // The README's command, in a temporary data folder; a 1 s Retry-After (not the default 3 s) keeps the tests short.
        start.ArgumentList.Add(host);
        foreach (var argument in ReadmeCommand("src/Provisioning.Emulator"))
        {
            start.ArgumentList.Add(argument.Replace(ReadmeDataDirectory, DataDirectory, StringComparison.Ordinal));
        }

        start.ArgumentList.Add("--retry-after");
        start.ArgumentList.Add("1");

        _process = Process.Start(start) ?? throw new InvalidOperationException("the emulator host did not start");
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(StartTimeout);
        while (!await IsReadyAsync(timeout.Token))
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"the emulator host exited with {_process.ExitCode}:\n{Log}");
            }

            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), timeout.Token);
            }
            catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"the emulator host wrote no complete emulator.json within {StartTimeout.TotalSeconds:0} s:\n{Log}");
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
            }

            await _process.WaitForExitAsync(CancellationToken.None);
            _process.Dispose();
        }

        if (Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_log)
            {
                _log.AppendLine(line);
            }
        }
    }

    /// <summary>The file is written while the host starts: ready when it parses and names its hubs' addresses.</summary>
    private async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(InfoFile))
        {
            return false;
        }

        try
        {
            using var document = JsonDocument.Parse(await File.ReadAllTextAsync(InfoFile, cancellationToken));
            return document.RootElement.TryGetProperty("hubs", out var hubs)
                && hubs.GetArrayLength() > 0
                && hubs.EnumerateArray().All(h => h.TryGetProperty("mqttAddress", out var address) && address.ValueKind == JsonValueKind.String);
        }
        catch (JsonException)
        {
            return false;
        }
        catch (IOException)
        {
            return false;
        }
    }
}

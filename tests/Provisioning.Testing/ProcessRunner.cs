using System.Diagnostics;
using System.Text;

namespace Provisioning.Testing;

/// <summary>The outcome of a finished external process.</summary>
public sealed record ProcessResult(int ExitCode, string StandardOutput, string StandardError, byte[] StandardOutputBytes)
{
    /// <summary>Throws with both streams when the process did not exit 0.</summary>
    public ProcessResult EnsureSuccess(string what)
    {
        if (ExitCode != 0)
        {
            throw new InvalidOperationException($"{what} exited {ExitCode}.\nstdout: {StandardOutput}\nstderr: {StandardError}");
        }

        return this;
    }
}

/// <summary>Runs external tools (swtpm, tpm2-tools, openssl, sample programs) with a deadline.</summary>
public static class ProcessRunner
{
    /// <summary>Whether an executable of that name is on PATH.</summary>
    public static bool IsOnPath(string executable)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? string.Empty;
        return path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Any(dir => File.Exists(Path.Combine(dir, executable)));
    }

    /// <summary>Runs <paramref name="fileName"/> with the given arguments and waits for it to exit.</summary>
    public static async Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        byte[]? standardInput = null,
        string? workingDirectory = null,
        IReadOnlyDictionary<string, string>? environment = null,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        var psi = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in arguments)
        {
            psi.ArgumentList.Add(a);
        }

        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                psi.Environment[k] = v;
            }
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {fileName}.");
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout ?? TimeSpan.FromSeconds(60));

        var stdout = new MemoryStream();
        var stdoutTask = process.StandardOutput.BaseStream.CopyToAsync(stdout, cts.Token);
        var stderrTask = process.StandardError.ReadToEndAsync(cts.Token);
        if (standardInput is not null)
        {
            await process.StandardInput.BaseStream.WriteAsync(standardInput, cts.Token);
        }

        process.StandardInput.Close();
        try
        {
            await process.WaitForExitAsync(cts.Token);
            await stdoutTask;
            var stderr = await stderrTask;
            var bytes = stdout.ToArray();
            return new ProcessResult(process.ExitCode, Encoding.UTF8.GetString(bytes), stderr, bytes);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', psi.ArgumentList)} did not finish in time.");
        }
    }
}

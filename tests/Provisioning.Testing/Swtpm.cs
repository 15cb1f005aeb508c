using System.Net;
using System.Net.Sockets;

using Xunit;

namespace Provisioning.Testing;

/// <summary>
/// Whether the real TPM 2.0 (swtpm) and tpm2-tools are on this machine, and the rule for tests that need them:
/// skip with a reason when absent, fail when <c>PROVISIONING_REQUIRE_SWTPM=1</c> (as <c>.ci/run</c> sets).
/// </summary>
public static class Swtpm
{
    /// <summary>The environment variable that turns a missing swtpm into a failure.</summary>
    public const string RequireVariable = "PROVISIONING_REQUIRE_SWTPM";

    /// <summary>Whether <c>swtpm</c> is on PATH.</summary>
    public static bool IsInstalled => ProcessRunner.IsOnPath("swtpm");

    /// <summary>Whether <c>tpm2-tools</c> is on PATH.</summary>
    public static bool ToolsInstalled => ProcessRunner.IsOnPath("tpm2_createek");

    /// <summary>Whether CI demands the real TPM.</summary>
    public static bool IsRequired => Environment.GetEnvironmentVariable(RequireVariable) == "1";

    /// <summary>Skips the calling test when swtpm (and, if asked, tpm2-tools) is absent; fails instead under CI.</summary>
    public static void RequireOrSkip(bool tools = false)
    {
        string? missing = !IsInstalled ? "swtpm" : (tools && !ToolsInstalled ? "tpm2-tools" : null);
        if (missing is null)
        {
            return;
        }

        var reason = $"{missing} is not installed (apt-get install swtpm swtpm-tools tpm2-tools); this test needs a real TPM 2.0.";
        if (IsRequired)
        {
            Assert.Fail($"{RequireVariable}=1 but {reason}");
        }

        Assert.Skip(reason);
    }
}

/// <summary>
/// One swtpm process on a free loopback port pair with its own state folder (see shared/docs/tpm-lab.md).
/// Stopping it keeps the state folder, so a restart is the same TPM; disposing deletes the folder it created.
/// </summary>
public sealed class SwtpmInstance : IAsyncDisposable
{
    private readonly bool _ownsState;

    private SwtpmInstance(string stateDirectory, bool ownsState)
    {
        StateDirectory = stateDirectory;
        _ownsState = ownsState;
    }

    /// <summary>The folder holding the TPM's persistent state.</summary>
    public string StateDirectory { get; }

    /// <summary>The TCP port of the TPM command channel.</summary>
    public int Port { get; private set; }

    /// <summary>The TCP port of swtpm's control channel (always <see cref="Port"/> + 1).</summary>
    public int ControlPort => Port + 1;

    /// <summary>Whether the process is running.</summary>
    public bool IsRunning { get; private set; }

    /// <summary>The Unix socket of the TPM command channel when started with <see cref="StartNewUnixSocketAsync"/>; null for TCP.</summary>
    public string? UnixSocketPath { get; private set; }

    /// <summary>Our own transport spec for this TPM.</summary>
    public string TransportSpec => UnixSocketPath is null ? $"swtpm:127.0.0.1:{Port}" : $"unix:{UnixSocketPath}";

    /// <summary>The tpm2-tools TCTI for this TPM (pass it with <c>-T</c>).</summary>
    public string Tcti => $"swtpm:host=127.0.0.1,port={Port}";

    private string PidFile => Path.Combine(StateDirectory, "..", Path.GetFileName(StateDirectory) + ".pid");

    private string LogFile => Path.Combine(StateDirectory, "..", Path.GetFileName(StateDirectory) + ".log");

    /// <summary>Creates a fresh state folder (a new TPM with a new EK), optionally manufactured like a shipped TPM, and starts swtpm.</summary>
    /// <param name="manufacture">Run <c>swtpm_setup --createek</c> first: an EK persisted at 0x81010001 with an EK certificate.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<SwtpmInstance> StartNewAsync(bool manufacture = false, CancellationToken cancellationToken = default)
    {
        var root = Path.Combine(Path.GetTempPath(), "provisioning-swtpm", Guid.NewGuid().ToString("N"));
        var state = Path.Combine(root, "state");
        Directory.CreateDirectory(state);
        var instance = new SwtpmInstance(state, ownsState: true);
        if (manufacture)
        {
            await ProcessRunner.RunAsync(
                "swtpm_setup",
                ["--tpm2", "--tpmstate", state, "--createek", "--create-ek-cert", "--create-platform-cert", "--lock-nvram", "--overwrite"],
                timeout: TimeSpan.FromSeconds(60),
                cancellationToken: cancellationToken).ConfigureAwait(false);
        }

        await instance.StartAsync(cancellationToken).ConfigureAwait(false);
        return instance;
    }

    /// <summary>A fresh TPM whose command channel is a Unix socket (<c>--server type=unixio</c>), as a kernel device is a stream;
    /// the control channel stays on TCP.</summary>
    public static async Task<SwtpmInstance> StartNewUnixSocketAsync(CancellationToken cancellationToken = default)
    {
        var root = Path.Combine(Path.GetTempPath(), "provisioning-swtpm", Guid.NewGuid().ToString("N"));
        var state = Path.Combine(root, "state");
        Directory.CreateDirectory(state);
        var instance = new SwtpmInstance(state, ownsState: true) { UnixSocketPath = Path.Combine(root, "tpm.sock") };
        await instance.StartAsync(cancellationToken).ConfigureAwait(false);
        return instance;
    }

    /// <summary>Starts swtpm on an existing state folder (kept by the caller).</summary>
    public static async Task<SwtpmInstance> StartAsync(string stateDirectory, CancellationToken cancellationToken = default)
    {
        Directory.CreateDirectory(stateDirectory);
        var instance = new SwtpmInstance(Path.GetFullPath(stateDirectory), ownsState: false);
        await instance.StartAsync(cancellationToken).ConfigureAwait(false);
        return instance;
    }

    /// <summary>Starts the process on a free port pair; a clean power-on (no stale volatile state).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (IsRunning)
        {
            return;
        }

        File.Delete(Path.Combine(StateDirectory, "tpm2-00.volatilestate"));
        for (var attempt = 0; attempt < 20; attempt++)
        {
            var port = FreePortPair();
            var result = await ProcessRunner.RunAsync(
                "swtpm",
                [
                    "socket", "--tpm2", "--tpmstate", $"dir={StateDirectory}",
                    "--server", UnixSocketPath is null ? $"type=tcp,port={port},bindaddr=127.0.0.1" : $"type=unixio,path={UnixSocketPath}",
                    "--ctrl", $"type=tcp,port={port + 1},bindaddr=127.0.0.1",
                    "--flags", "not-need-init,startup-clear",
                    "--pid", $"file={PidFile}",
                    "--log", $"file={LogFile},level=1",
                    "--daemon",
                ],
                timeout: TimeSpan.FromSeconds(30),
                cancellationToken: cancellationToken).ConfigureAwait(false);
            if (result.ExitCode != 0)
            {
                continue; // most likely the port was taken meanwhile: pick another pair
            }

            Port = port;
            if (await WaitUntilAcceptingAsync(port, cancellationToken).ConfigureAwait(false))
            {
                IsRunning = true;
                return;
            }

            await StopProcessAsync().ConfigureAwait(false);
        }

        var log = File.Exists(LogFile) ? await File.ReadAllTextAsync(LogFile, cancellationToken).ConfigureAwait(false) : "(no log)";
        throw new InvalidOperationException($"swtpm did not start. Log:\n{log}");
    }

    /// <summary>Stops the process and keeps the state (persistent objects survive, as on a real power cycle).</summary>
    public async Task StopAsync()
    {
        if (!IsRunning)
        {
            return;
        }

        IsRunning = false;
        await StopProcessAsync().ConfigureAwait(false);
    }

    /// <summary>Stops and starts again on the same state folder (the port may change).</summary>
    public async Task RestartAsync(CancellationToken cancellationToken = default)
    {
        await StopAsync().ConfigureAwait(false);
        await StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A power cycle through swtpm's control channel (CMD_INIT): volatile state is lost and the TPM then needs
    /// TPM2_Startup, as after a device reboot.</summary>
    public async Task PowerCycleAsync(CancellationToken cancellationToken = default)
    {
        using var control = new TcpClient();
        await control.ConnectAsync(IPAddress.Loopback, ControlPort, cancellationToken).ConfigureAwait(false);
        var stream = control.GetStream();
        await stream.WriteAsync(new byte[] { 0, 0, 0, 2, 0, 0, 0, 0 }, cancellationToken).ConfigureAwait(false); // CMD_INIT, flags 0
        var result = new byte[4];
        await stream.ReadExactlyAsync(result, cancellationToken).ConfigureAwait(false);
        if (result.Any(b => b != 0))
        {
            throw new InvalidOperationException($"swtpm CMD_INIT answered {Convert.ToHexString(result)}.");
        }
    }

    /// <summary>Freezes the TPM process (SIGSTOP): it keeps its sockets, so connections are accepted and commands are never
    /// answered, as with a hung chip. <see cref="ResumeAsync"/> (or disposal, which kills it) ends that.</summary>
    public Task SuspendAsync(CancellationToken cancellationToken = default) => SignalAsync(Signals.Stop, cancellationToken);

    /// <summary>Lets a suspended TPM process run again (SIGCONT).</summary>
    public Task ResumeAsync(CancellationToken cancellationToken = default) => SignalAsync(Signals.Continue, cancellationToken);

    private async Task SignalAsync(int signal, CancellationToken cancellationToken)
    {
        var pid = int.Parse((await File.ReadAllTextAsync(PidFile, cancellationToken).ConfigureAwait(false)).Trim(), System.Globalization.CultureInfo.InvariantCulture);
        Signals.Send(pid, signal);
    }

    /// <summary>Runs one tpm2-tools command against this TPM.</summary>
    public Task<ProcessResult> ToolAsync(string tool, IEnumerable<string> arguments, byte[]? standardInput = null, string? workingDirectory = null, CancellationToken cancellationToken = default)
        => ProcessRunner.RunAsync(
            tool,
            arguments,
            standardInput,
            workingDirectory,
            new Dictionary<string, string> { ["TPM2TOOLS_TCTI"] = Tcti },
            TimeSpan.FromSeconds(60),
            cancellationToken);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        if (_ownsState)
        {
            var root = Path.GetDirectoryName(StateDirectory)!;
            try
            {
                Directory.Delete(root, recursive: true);
            }
            catch (IOException)
            {
                // a leftover temp folder is harmless; the next run uses a new one
            }
        }
    }

    private async Task StopProcessAsync()
    {
        if (File.Exists(PidFile) && int.TryParse((await File.ReadAllTextAsync(PidFile).ConfigureAwait(false)).Trim(), out var pid))
        {
            try
            {
                using var p = System.Diagnostics.Process.GetProcessById(pid);
                p.Kill();
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await p.WaitForExitAsync(cts.Token).ConfigureAwait(false);
            }
            catch (ArgumentException)
            {
                // already gone
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
        }

        // swtpm removes its pid file on exit; wait for it so the next start sees a clean slate
        for (var i = 0; i < 100 && File.Exists(PidFile); i++)
        {
            await Task.Delay(20).ConfigureAwait(false);
        }

        File.Delete(PidFile);
    }

    private static async Task<bool> WaitUntilAcceptingAsync(int port, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 200; i++)
        {
            // Probe the control port: a connection to the data port would hold the TPM's single client slot.
            using var probe = new TcpClient();
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, port + 1, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (SocketException)
            {
                await Task.Delay(10, cancellationToken).ConfigureAwait(false);
            }
        }

        return false;
    }

    private static int FreePortPair()
    {
        for (var i = 0; i < 50; i++)
        {
            using var a = new TcpListener(IPAddress.Loopback, 0);
            a.Start();
            var port = ((IPEndPoint)a.LocalEndpoint).Port;
            if (port >= 65535)
            {
                continue;
            }

            try
            {
                using var b = new TcpListener(IPAddress.Loopback, port + 1);
                b.Start();
                return port;
            }
            catch (SocketException)
            {
                // port + 1 busy: try another
            }
        }

        throw new InvalidOperationException("No free loopback port pair.");
    }
}

/// <summary>kill(2) for SIGSTOP/SIGCONT, without depending on a kill binary being installed.</summary>
internal static partial class Signals
{
    /// <summary>SIGSTOP on Linux.</summary>
    public const int Stop = 19;

    /// <summary>SIGCONT on Linux.</summary>
    public const int Continue = 18;

    public static void Send(int pid, int signal)
    {
        if (Kill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        }
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

/// <summary>An xUnit class fixture: one fresh swtpm per test class, started lazily by the first test that needs it.</summary>
public sealed class SwtpmFixture : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private SwtpmInstance? _instance;

    /// <summary>The running instance; skips (or fails under CI) when swtpm is absent.</summary>
    public async Task<SwtpmInstance> GetAsync(bool tools = false)
    {
        Swtpm.RequireOrSkip(tools);
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            return _instance ??= await SwtpmInstance.StartNewAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_instance is not null)
        {
            await _instance.DisposeAsync().ConfigureAwait(false);
        }

        _gate.Dispose();
    }
}

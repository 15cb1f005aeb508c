using System.Diagnostics;
using System.Runtime.InteropServices;

using Microsoft.Win32.SafeHandles;

namespace Provisioning.Testing;

/// <summary>
/// <c>swtpm chardev --tpm2 --fd N</c> on one end of a socketpair: the TPM behaves like a kernel character device on the
/// other end, which <see cref="Device"/> exposes as a <see cref="FileStream"/> (shared/docs/tpm-lab.md, "A device-style stream").
/// </summary>
public sealed partial class SwtpmChardev : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _root;

    private SwtpmChardev(Process process, string root, FileStream device)
    {
        _process = process;
        _root = root;
        Device = device;
    }

    /// <summary>Our end of the socketpair, opened like a device file (unbuffered FileStream).</summary>
    public FileStream Device { get; }

    /// <summary>Starts a fresh TPM (Linux only).</summary>
    public static SwtpmChardev Start()
    {
        var root = Path.Combine(Path.GetTempPath(), "provisioning-swtpm", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path.Combine(root, "state"));
        var pair = new int[2];
        if (SocketPair(1 /* AF_UNIX */, 1 /* SOCK_STREAM, no CLOEXEC: swtpm inherits it */, 0, pair) != 0)
        {
            throw new InvalidOperationException($"socketpair failed: errno {Marshal.GetLastPInvokeError()}");
        }

        var psi = new ProcessStartInfo("swtpm") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { "chardev", "--tpm2", "--fd", pair[1].ToString(System.Globalization.CultureInfo.InvariantCulture), "--tpmstate", $"dir={Path.Combine(root, "state")}", "--flags", "not-need-init,startup-clear" })
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException("Could not start swtpm chardev.");
        _ = Close(pair[1]); // the child holds its copy
        var device = new FileStream(new SafeFileHandle(pair[0], ownsHandle: true), FileAccess.ReadWrite, bufferSize: 0);
        return new SwtpmChardev(process, root, device);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await Device.DisposeAsync().ConfigureAwait(false); // swtpm chardev exits when its end closes
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            await _process.WaitForExitAsync(cts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            _process.Kill();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
            // a leftover temp folder is harmless
        }
    }

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    private static partial int SocketPair(int domain, int type, int protocol, [Out] int[] sv);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);
}

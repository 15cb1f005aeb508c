namespace Provisioning.Device.Tpm;

/// <summary>A Linux kernel TPM character device: <c>/dev/tpmrm0</c> (the in-kernel resource manager) or <c>/dev/tpm0</c>.</summary>
/// <remarks>The kernel takes one whole command per write() and returns one whole response per read(). Permission and busy
/// errors say what to do, since these are what users meet first on real hardware.</remarks>
internal sealed class DeviceTpmTransport : StreamTpmTransport
{
    /// <summary>The default candidates: the resource manager first, because it flushes what a crashed process leaves loaded.</summary>
    internal static readonly string[] DefaultPaths = ["/dev/tpmrm0", "/dev/tpm0"];

    private const int EBUSY = 16;

    private readonly IReadOnlyList<string> _paths;
    private readonly Func<string, Stream> _open;

    public DeviceTpmTransport(IReadOnlyList<string> paths, TpmTransportOptions options)
        : this(paths, options, OpenDevice)
    {
    }

    /// <summary>Test seam: <paramref name="open"/> replaces opening the device file (tests use a Unix socket to swtpm).</summary>
    internal DeviceTpmTransport(IReadOnlyList<string> paths, TpmTransportOptions options, Func<string, Stream> open)
        : base(options, "device:" + string.Join(" or ", paths))
    {
        _paths = paths;
        _open = open;
    }

    /// <summary>The device that was opened last, once connected.</summary>
    public string? OpenedPath { get; private set; }

    protected override ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var missing = new List<string>();
        foreach (var path in _paths)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                var stream = _open(path);
                OpenedPath = path;
                return ValueTask.FromResult(stream);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                missing.Add(path);
            }
            catch (UnauthorizedAccessException e)
            {
                throw new TpmException(
                    $"Permission denied opening {path}. Add the user to the 'tss' group (sudo usermod -aG tss $USER, then log in again), "
                    + "or install a udev rule giving that group access, e.g. KERNEL==\"tpmrm[0-9]*\", GROUP=\"tss\", MODE=\"0660\".",
                    e);
            }
            catch (IOException e) when (e.HResult == EBUSY || e.Message.Contains("busy", StringComparison.OrdinalIgnoreCase))
            {
                throw new TpmException(
                    $"{path} is busy: another process (often tpm2-abrmd or tcsd) holds it. /dev/tpm0 admits one user at a time; "
                    + "use the kernel resource manager /dev/tpmrm0 (spec 'device:/dev/tpmrm0') instead.",
                    e)
                {
                    IsBusy = true,
                };
            }
        }

        throw new TpmException($"No TPM device found ({string.Join(", ", missing)} do not exist). Is a TPM 2.0 enabled in the firmware "
            + "and its driver loaded? For a simulator use swtpm:<host>:<port>.");
    }

    /// <summary>Opens <paramref name="path"/> only if it is a character device: anything else is refused before one byte is
    /// written (a regular file would get a TPM2_Startup command over its first 12 bytes).</summary>
    private static Stream OpenDevice(string path)
    {
        var kind = DeviceFile.KindOf(path);
        switch (kind)
        {
            case DeviceFileKind.Missing:
                throw new FileNotFoundException("absent", path);
            case DeviceFileKind.Directory:
                throw new TpmException($"{path} is a directory, not a TPM character device. Name the device itself, e.g. device:/dev/tpmrm0 "
                    + "(or 'device' for /dev/tpmrm0, else /dev/tpm0).");
            case DeviceFileKind.RegularFile:
                throw NotADevice(path, "a regular file");
            case DeviceFileKind.BlockDevice or DeviceFileKind.Fifo or DeviceFileKind.Socket:
                throw NotADevice(path, kind switch
                {
                    DeviceFileKind.BlockDevice => "a block device",
                    DeviceFileKind.Fifo => "a FIFO",
                    _ => "a Unix socket (for swtpm's unixio socket use unix:" + path + ")",
                });
        }

        var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, bufferSize: 0);
        if (kind == DeviceFileKind.Unknown && stream.CanSeek)
        {
            // Without statx: a TPM device cannot seek, a regular file can.
            stream.Dispose();
            throw NotADevice(path, "a regular file");
        }

        return stream;
    }

    private static TpmException NotADevice(string path, string what)
        => new($"{path} is {what}, not a TPM character device; nothing was written to it. Use the kernel device (device, or "
            + "device:/dev/tpmrm0), or a simulator spec (swtpm:<host>:<port>, mssim:<host>:<port>, unix:<path>).");
}

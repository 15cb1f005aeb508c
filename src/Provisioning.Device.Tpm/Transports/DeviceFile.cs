using System.Runtime.InteropServices;

namespace Provisioning.Device.Tpm;

/// <summary>What a path names, as far as the device transport cares: a TPM is a character device, and nothing else may be
/// opened for writing (a regular file would be overwritten by the first command).</summary>
internal enum DeviceFileKind
{
    /// <summary>The type could not be read (no statx); the opened stream is checked instead.</summary>
    Unknown,
    Missing,
    CharacterDevice,
    Directory,
    RegularFile,
    BlockDevice,
    Fifo,
    Socket,
}

/// <summary>Reads a path's file type with statx(2), whose layout is the same on every Linux architecture.</summary>
internal static partial class DeviceFile
{
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const int StatxSize = 256;
    private const int ModeOffset = 28; // stx_mask u32, stx_blksize u32, stx_attributes u64, stx_nlink, stx_uid, stx_gid u32, then stx_mode u16
    private const int ENOENT = 2;
    private const int ENOTDIR = 20;

    public static DeviceFileKind KindOf(string path)
    {
        if (!OperatingSystem.IsLinux())
        {
            return DeviceFileKind.Unknown;
        }

        var buffer = new byte[StatxSize];
        int result;
        try
        {
            result = Statx(AtFdCwd, path, 0, StatxType, buffer);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            return DeviceFileKind.Unknown;
        }

        if (result != 0)
        {
            return Marshal.GetLastPInvokeError() is ENOENT or ENOTDIR ? DeviceFileKind.Missing : DeviceFileKind.Unknown;
        }

        var mode = BitConverter.ToUInt16(buffer, ModeOffset);
        return (mode & 0xF000) switch
        {
            0x2000 => DeviceFileKind.CharacterDevice,
            0x4000 => DeviceFileKind.Directory,
            0x8000 => DeviceFileKind.RegularFile,
            0x6000 => DeviceFileKind.BlockDevice,
            0x1000 => DeviceFileKind.Fifo,
            0xC000 => DeviceFileKind.Socket,
            _ => DeviceFileKind.Unknown,
        };
    }

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Statx(int dirFd, string path, int flags, uint mask, [Out] byte[] buffer);
}

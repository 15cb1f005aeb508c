using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>The state folder of a software TPM: owner-only, refused when others can read it, replaced atomically.</summary>
/// <remarks>
/// The folder holds the hierarchy seeds and private keys, so it is created 0700 and its file 0600; a folder or file with any
/// group or other permission bit is refused rather than silently fixed, because its secrets may already have leaked. A write
/// goes to a new temporary file (created 0600), is flushed to disk, and replaces the state file by rename: a crash leaves
/// either the old state or the new one, never a mix. (.NET cannot fsync a directory, so the rename itself is as durable as
/// the file system makes it.) Windows has no Unix modes: there the folder's ACL is the user's business.
/// </remarks>
internal sealed class SoftwareTpmStateStore(string directory)
{
    public const string FileName = "software-tpm.state";

    private const UnixFileMode OthersMask = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    public string Directory { get; } = Path.GetFullPath(directory);

    public string StatePath => Path.Combine(Directory, FileName);

    /// <summary>Reads the state, or creates the folder and a new TPM's state when there is none.</summary>
    /// <exception cref="TpmException">The folder or file is open to others, unreadable, or not a software TPM state.</exception>
    public SoftwareTpmState LoadOrCreate()
    {
        try
        {
            if (!System.IO.Directory.Exists(Directory))
            {
                CreateDirectory();
            }

            CheckPermissions(Directory, "folder");
            if (!File.Exists(StatePath))
            {
                var state = SoftwareTpmState.CreateNew();
                Save(state);
                return state;
            }

            CheckPermissions(StatePath, "file");
            var bytes = File.ReadAllBytes(StatePath);
            try
            {
                return SoftwareTpmState.Deserialize(bytes);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(bytes);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or TpmFormatException or CryptographicException)
        {
            throw new TpmException($"The software TPM state in '{Directory}' cannot be used: {e.Message}", e);
        }
    }

    /// <summary>Writes the state atomically (temporary file, flush to disk, rename).</summary>
    /// <exception cref="IOException">The write failed; the previous state file is untouched.</exception>
    public void Save(SoftwareTpmState state)
    {
        var bytes = state.Serialize();
        var temporary = Path.Combine(Directory, $".{FileName}.{Guid.NewGuid():N}.tmp");
        try
        {
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, StatePath, overwrite: true);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }

    private void CreateDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            System.IO.Directory.CreateDirectory(Directory);
            return;
        }

        System.IO.Directory.CreateDirectory(Directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
    }

    private static void CheckPermissions(string path, string what)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var mode = File.GetUnixFileMode(path);
        if ((mode & OthersMask) != 0)
        {
            throw new IOException(
                $"The state {what} '{path}' is accessible to group or others (mode {Convert.ToString((int)mode, 8)}); it holds the TPM's "
                + $"seeds and keys, so it must be owner-only (chmod {(what == "folder" ? "700" : "600")}). Refusing to use it.");
        }
    }
}

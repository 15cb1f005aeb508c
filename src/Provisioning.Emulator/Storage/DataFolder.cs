namespace Provisioning.Emulator.Storage;

/// <summary>
/// The data folder holds the service owner key (<c>emulator.json</c>, <c>emulator.db</c>), every device key
/// (<c>emulator.db</c>) and the CA key (<c>ca-key.pem</c>): it is created 0700, its key files 0600, and a folder that
/// others can open is refused at start.
/// </summary>
internal static class DataFolder
{
    /// <summary>Owner read, write, search: the folder's mode.</summary>
    public const UnixFileMode FolderMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;

    /// <summary>Owner read and write: the mode of every file that holds a key.</summary>
    public const UnixFileMode KeyFileMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private const UnixFileMode Others = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>The files of the folder that hold keys (the SQLite journal files hold the same rows as the database).</summary>
    public static readonly string[] KeyFiles = ["emulator.db", "emulator.db-wal", "emulator.db-shm", "emulator.db-journal", DpsEmulator.InfoFileName, "ca-key.pem"];

    /// <summary>
    /// Creates the folder 0700, or checks that an existing one is not open to others, and narrows its key files to 0600.
    /// </summary>
    /// <exception cref="IOException">The folder can be read, written or searched by others.</exception>
    public static void Prepare(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
            return;
        }

        if (!Directory.Exists(directory))
        {
            Directory.CreateDirectory(directory, FolderMode);
        }

        var mode = File.GetUnixFileMode(directory);
        if ((mode & Others) != 0)
        {
            throw new IOException(
                $"The emulator's data folder '{directory}' is open to other users (mode {Octal(mode)}); it holds the service owner key and " +
                $"every device key. Restrict it with `chmod 700 '{directory}'` (or choose another folder with --data), then start again.");
        }

        foreach (var name in KeyFiles)
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path) && (File.GetUnixFileMode(path) & ~KeyFileMode) != 0)
            {
                File.SetUnixFileMode(path, KeyFileMode);
            }
        }
    }

    /// <summary>
    /// Writes a key file whole: a temporary file, 0600 from its creation, renamed over <paramref name="path"/>, so a reader
    /// (a script polling <c>emulator.json</c>) never sees it half written and nobody else ever can read it.
    /// </summary>
    public static async Task WriteKeyFileAsync(string path, string text, CancellationToken cancellationToken)
    {
        var temporary = path + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = KeyFileMode;
        }

        var stream = new FileStream(temporary, options);
        await using (stream.ConfigureAwait(false))
        {
            var writer = new StreamWriter(stream);
            await using (writer.ConfigureAwait(false))
            {
                await writer.WriteAsync(text.AsMemory(), cancellationToken).ConfigureAwait(false);
            }
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(temporary, KeyFileMode);
        }

        File.Move(temporary, path, overwrite: true);
    }

    /// <summary>Creates an empty key file with mode 0600 when it does not exist yet (SQLite keeps the mode it finds).</summary>
    public static void CreateKeyFile(string path)
    {
        if (OperatingSystem.IsWindows() || File.Exists(path))
        {
            return;
        }

        using var created = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = KeyFileMode });
    }

    private static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8);
}

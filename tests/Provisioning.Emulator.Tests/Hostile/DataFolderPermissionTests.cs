using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Hostile;

/// <summary>The data folder holds every key: 0700, its key files 0600, and a folder open to others is refused at start.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataFolderPermissionTests
{
    private const UnixFileMode Owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode KeyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    [Fact]
    public async Task NewDataFolder_Is0700_AndEveryKeyFile0600()
    {
        SkipOnWindows();
        var data = Path.Combine(TestDps.TempDirectory(), "fresh");
        try
        {
            await using (var dps = await TestDps.StartAsync(o => o.DataDirectory = data))
            {
                var keys = await dps.Enrollments.AddSymmetricKeyAsync("perm-01", cancellationToken: TestContext.Current.CancellationToken);
                using var client = TestDps.Client(dps);
                await TestDps.RegisterToEndAsync(client, dps, "perm-01", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "perm-01"));

                Assert.Equal(Owner, File.GetUnixFileMode(data));
                AssertKeyFiles(data);
            }

            AssertKeyFiles(data);
        }
        finally
        {
            Directory.Delete(Path.GetDirectoryName(data)!, recursive: true);
        }
    }

    [Theory]
    [InlineData(UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, "0755")]
    [InlineData(UnixFileMode.OtherExecute, "0701")]
    [InlineData(UnixFileMode.GroupWrite, "0720")]
    public async Task DataFolderOpenToOthers_IsRefusedAtStart_WithTheFix(UnixFileMode extra, string octal)
    {
        SkipOnWindows();
        var data = TestDps.TempDirectory();
        try
        {
            File.SetUnixFileMode(data, Owner | extra);
            var thrown = await Assert.ThrowsAsync<IOException>(() => TestDps.StartAsync(o => o.DataDirectory = data));
            Assert.Contains(octal, thrown.Message, StringComparison.Ordinal);
            Assert.Contains($"chmod 700 '{data}'", thrown.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.GetFiles(data));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task KeyFilesLeftReadable_AreNarrowedTo0600AtStart()
    {
        SkipOnWindows();
        var data = TestDps.TempDirectory();
        try
        {
            await using (await TestDps.StartAsync(o => o.DataDirectory = data))
            {
            }

            foreach (var file in Directory.GetFiles(data))
            {
                File.SetUnixFileMode(file, KeyFile | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
            }

            await using (await TestDps.StartAsync(o => o.DataDirectory = data))
            {
                AssertKeyFiles(data);
            }
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    private static void AssertKeyFiles(string data)
    {
        var present = Directory.GetFiles(data).Select(Path.GetFileName).ToList();
        Assert.Contains("emulator.db", present);
        Assert.Contains("emulator.json", present);
        Assert.Contains("ca-key.pem", present);
        foreach (var file in Directory.GetFiles(data).Where(f => Path.GetFileName(f) != "ca.pem"))
        {
            Assert.True(File.GetUnixFileMode(file) == KeyFile, $"{Path.GetFileName(file)} is {File.GetUnixFileMode(file)}");
        }
    }

    private static void SkipOnWindows()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Unix file modes only.");
        }
    }
}

using System.Security.Cryptography;

namespace Provisioning.Device.Tpm.Tests.Software;

/// <summary>The state folder: same folder → same TPM; owner-only; refused when open to others; replaced atomically.</summary>
public sealed class SoftwareTpmStateFolderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("software-tpm-test").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string StateDir => Path.Combine(_root, "state");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task SameFolder_GivesTheSameEkAndRegistrationId_AndKeepsThePersistedIdentityKey()
    {
        string registrationId;
        byte[] ek;
        byte[] identityKey;
        await using (var first = TpmIdentity.Open("software:" + StateDir))
        {
            ek = await first.GetEndorsementKeyAsync(Ct);
            registrationId = await first.GetRegistrationIdAsync(Ct);
            var issued = await Issue.ForAsync(first, cancellationToken: Ct);
            identityKey = issued.IdentityKey;
            await first.ActivateIdentityKeyAsync(issued.AuthenticationKey, Ct);
        }

        await using var second = TpmIdentity.Open("software:" + StateDir);
        Assert.Equal(ek, await second.GetEndorsementKeyAsync(Ct));
        Assert.Equal(registrationId, await second.GetRegistrationIdAsync(Ct));
        Assert.Equal(HMACSHA256.HashData(identityKey, "after a restart"u8), await second.SignAsync("after a restart"u8.ToArray(), Ct));

        // The EK and SRK read back from the folder still decrypt: a new blob activates after the restart.
        var next = await Issue.ForAsync(second, cancellationToken: Ct);
        await second.ActivateIdentityKeyAsync(next.AuthenticationKey, Ct);
        Assert.Equal(HMACSHA256.HashData(next.IdentityKey, "x"u8), await second.SignAsync("x"u8.ToArray(), Ct));

        await using var elsewhere = TpmIdentity.Open("software:" + Path.Combine(_root, "other"));
        Assert.NotEqual(registrationId, await elsewhere.GetRegistrationIdAsync(Ct));
    }

    [Fact]
    public async Task NoFolder_IsAnEphemeralTpm_WithANewEkEachTime()
    {
        await using var a = TpmIdentity.Open("software");
        await using var b = TpmIdentity.Open("software");
        Assert.NotEqual(await a.GetRegistrationIdAsync(Ct), await b.GetRegistrationIdAsync(Ct));
    }

    [Fact]
    public async Task NewFolder_IsCreatedOwnerOnly_WithAnOwnerOnlyStateFile_AndNothingElse()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Unix permissions only.");
            return;
        }

        await using (var identity = TpmIdentity.Open("software:" + StateDir))
        {
            await identity.GetEndorsementKeyAsync(Ct);
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(StateDir));
        var file = Assert.Single(Directory.GetFiles(StateDir));
        Assert.Equal(SoftwareTpmStateStore.FileName, Path.GetFileName(file));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
    }

    [Theory]
    [InlineData("group-readable folder", "folder", UnixFileMode.GroupRead | UnixFileMode.GroupExecute)]
    [InlineData("world-readable folder", "folder", UnixFileMode.OtherRead | UnixFileMode.OtherExecute)]
    [InlineData("group-readable file", "file", UnixFileMode.GroupRead)]
    [InlineData("world-readable file", "file", UnixFileMode.OtherRead)]
    public async Task StateOpenToOthers_IsRefusedWithAClearError_AndLeftUnchanged(string name, string what, UnixFileMode extra)
    {
        _ = name;
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Unix permissions only.");
            return;
        }

        await using (var identity = TpmIdentity.Open("software:" + StateDir))
        {
            await identity.GetEndorsementKeyAsync(Ct);
        }

        var path = what == "folder" ? StateDir : Path.Combine(StateDir, SoftwareTpmStateStore.FileName);
        var before = File.ReadAllBytes(Path.Combine(StateDir, SoftwareTpmStateStore.FileName));
        File.SetUnixFileMode(path, File.GetUnixFileMode(path) | extra);

        await using var reopened = TpmIdentity.Open("software:" + StateDir);
        var error = await Assert.ThrowsAsync<TpmException>(async () => await reopened.GetEndorsementKeyAsync(Ct));
        Assert.Contains("accessible to group or others", error.Message, StringComparison.Ordinal);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(Path.Combine(StateDir, SoftwareTpmStateStore.FileName)));
    }

    [Fact]
    public async Task Write_IsAtomic_ACrashBeforeTheRenameLeavesTheOldState()
    {
        byte[] ek;
        await using (var identity = TpmIdentity.Open("software:" + StateDir))
        {
            ek = await identity.GetEndorsementKeyAsync(Ct);
        }

        // A crash between writing the temporary file and renaming it leaves a half-written temporary file behind.
        var leftover = Path.Combine(StateDir, $".{SoftwareTpmStateStore.FileName}.crashed.tmp");
        File.WriteAllBytes(leftover, [1, 2, 3]);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(leftover, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        await using var after = TpmIdentity.Open("software:" + StateDir);
        Assert.Equal(ek, await after.GetEndorsementKeyAsync(Ct));
        Assert.Equal(ek, await after.GetEndorsementKeyAsync(Ct));
    }

    [Fact]
    public void Save_ReplacesTheFileByRename_NeverRewritingItInPlace()
    {
        var store = new SoftwareTpmStateStore(StateDir);
        var state = store.LoadOrCreate();
        var path = Path.Combine(StateDir, SoftwareTpmStateStore.FileName);
        using var held = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        var original = new byte[held.Length];
        held.ReadExactly(original);

        state.Primaries[(TpmHandles.Owner, "00")] = [1, 2, 3];
        store.Save(state);

        // The handle opened before still sees the old file's bytes: the new state is a new file renamed over it.
        held.Position = 0;
        var stillOld = new byte[original.Length];
        held.ReadExactly(stillOld);
        Assert.Equal(original, stillOld);
        Assert.NotEqual(original, File.ReadAllBytes(path));
        Assert.Single(Directory.GetFiles(StateDir));
    }

    [Fact]
    public async Task CorruptStateFile_IsRefusedWithATpmException()
    {
        Directory.CreateDirectory(StateDir);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(StateDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var path = Path.Combine(StateDir, SoftwareTpmStateStore.FileName);
        File.WriteAllBytes(path, [0x53, 0x54, 0x50, 0x4D, 0x00, 0x01, 0x00]);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        await using var identity = TpmIdentity.Open("software:" + StateDir);
        var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.GetEndorsementKeyAsync(Ct));
        Assert.Contains(StateDir, error.Message, StringComparison.Ordinal);
    }
}

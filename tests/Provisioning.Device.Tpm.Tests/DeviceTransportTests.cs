namespace Provisioning.Device.Tpm.Tests;

public sealed class DeviceTransportTests
{
    private static readonly byte[] GetRandom = Convert.FromHexString("80010000000C0000017B0008");

    [Fact]
    public async Task NoDevice_SaysNoneWasFound()
    {
        await using var transport = TpmTransport.Open("device:/nonexistent/tpmrm0");
        var error = await Assert.ThrowsAsync<TpmException>(async () => await transport.ExecuteAsync(GetRandom, TestContext.Current.CancellationToken));
        Assert.Contains("No TPM device found", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task PermissionDenied_PointsAtTheTssGroupAndAUdevRule()
    {
        await using var transport = new DeviceTpmTransport(["/dev/tpmrm0"], new TpmTransportOptions(), _ => throw new UnauthorizedAccessException("denied"));
        var error = await Assert.ThrowsAsync<TpmException>(async () => await transport.ExecuteAsync(GetRandom, TestContext.Current.CancellationToken));
        Assert.Contains("'tss' group", error.Message, StringComparison.Ordinal);
        Assert.Contains("udev", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BusyDevice_RecommendsTheResourceManager()
    {
        await using var transport = new DeviceTpmTransport(["/dev/tpm0"], new TpmTransportOptions(), _ => throw new IOException("Device or resource busy", 16));
        var error = await Assert.ThrowsAsync<TpmException>(async () => await transport.ExecuteAsync(GetRandom, TestContext.Current.CancellationToken));
        Assert.Contains("/dev/tpmrm0", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Response_IsReadFromOneStream_WhateverTheChunking()
    {
        // A fake device stream answering in one read, as the kernel does.
        var response = Convert.FromHexString("80010000001400000000" + "0008" + "0102030405060708");
        await using var transport = new DeviceTpmTransport(["/dev/fake"], new TpmTransportOptions(), _ => new FakeDevice(response));
        Assert.Equal(response, await transport.ExecuteAsync(GetRandom, TestContext.Current.CancellationToken));
    }

    private sealed class FakeDevice(byte[] response) : MemoryStream
    {
        private bool _answered;

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_answered)
            {
                return ValueTask.FromResult(0);
            }

            _answered = true;
            response.CopyTo(buffer);
            return ValueTask.FromResult(response.Length);
        }
    }
}

/// <summary><c>device:&lt;path&gt;</c> on paths that are not character devices: refused before one byte is written.</summary>
public sealed class DevicePathTests : IDisposable
{
    private static readonly byte[] Startup = Convert.FromHexString("80010000000C000001440000");

    private readonly string _dir = Directory.CreateTempSubdirectory("provisioning-device-path").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RegularFile_IsRefused_AndLeftUntouched()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "the kernel device transport is Linux only");
        var path = Path.Combine(_dir, "not-a-tpm.bin");
        var content = Enumerable.Range(0, 64).Select(i => (byte)i).ToArray();
        await File.WriteAllBytesAsync(path, content, Ct);
        var before = File.GetLastWriteTimeUtc(path);

        await using var transport = TpmTransport.Open("device:" + path);
        var error = await Assert.ThrowsAsync<TpmException>(async () => await transport.ExecuteAsync(Startup, Ct));

        Assert.Contains("is a regular file, not a TPM character device", error.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was written", error.Message, StringComparison.Ordinal);
        Assert.Equal(content, await File.ReadAllBytesAsync(path, Ct));
        Assert.Equal(before, File.GetLastWriteTimeUtc(path));
    }

    [Fact]
    public async Task Directory_IsRefused_AsADirectory_NotAsAPermissionProblem()
    {
        Assert.SkipUnless(OperatingSystem.IsLinux(), "the kernel device transport is Linux only");
        await using var transport = TpmTransport.Open("device:" + _dir);
        var error = await Assert.ThrowsAsync<TpmException>(async () => await transport.ExecuteAsync(Startup, Ct));
        Assert.Contains("is a directory, not a TPM character device", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("tss", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Missing_SaysNoDeviceFound()
    {
        await using var transport = TpmTransport.Open("device:" + Path.Combine(_dir, "tpm9"));
        var error = await Assert.ThrowsAsync<TpmException>(async () => await transport.ExecuteAsync(Startup, Ct));
        Assert.Contains("No TPM device found", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ACharacterDevice_IsOpened_AndSpokenTo()
    {
        // /dev/null is a character device: it passes the check, takes the command and answers nothing.
        Assert.SkipUnless(OperatingSystem.IsLinux(), "the kernel device transport is Linux only");
        Assert.Equal(DeviceFileKind.CharacterDevice, DeviceFile.KindOf("/dev/null"));
        Assert.Equal(DeviceFileKind.Directory, DeviceFile.KindOf(_dir));
        Assert.Equal(DeviceFileKind.Missing, DeviceFile.KindOf(Path.Combine(_dir, "absent", "tpm0")));
        await using var transport = TpmTransport.Open("device:/dev/null");
        var error = await Assert.ThrowsAsync<TpmException>(async () => await transport.ExecuteAsync(Startup, Ct));
        Assert.Contains("closed the connection after 0 byte(s)", error.Message, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_dir, recursive: true);
}

public sealed class TransportDeadlineTests
{
    [Fact]
    public void QuickCommands_GetTheTimeout_KeyGenerationTheLongerOne()
    {
        var options = new TpmTransportOptions();
        Assert.Equal(TimeSpan.FromSeconds(25), options.TimeoutFor(TpmCommandCode.Startup));
        Assert.Equal(TimeSpan.FromSeconds(25), options.TimeoutFor(TpmCommandCode.ActivateCredential));
        Assert.Equal(TimeSpan.FromMinutes(5), options.TimeoutFor(TpmCommandCode.CreatePrimary));
        Assert.Equal(TimeSpan.FromMinutes(5), options.TimeoutFor(TpmCommandCode.Create));
        Assert.Equal(TimeSpan.FromMinutes(5), options.TimeoutFor((TpmCommandCode)0x191)); // CreateLoaded

        options.Timeout = TimeSpan.FromMinutes(10); // key generation never gets less than a quick command
        Assert.Equal(TimeSpan.FromMinutes(10), options.TimeoutFor(TpmCommandCode.CreatePrimary));
        options.Timeout = Timeout.InfiniteTimeSpan;
        Assert.Equal(Timeout.InfiniteTimeSpan, options.TimeoutFor(TpmCommandCode.CreatePrimary));
        Assert.Throws<ArgumentOutOfRangeException>(() => options.KeyGenerationTimeout = TimeSpan.Zero);
    }
}

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

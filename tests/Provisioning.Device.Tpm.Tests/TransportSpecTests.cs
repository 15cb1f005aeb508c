namespace Provisioning.Device.Tpm.Tests;

public sealed class TransportSpecTests
{
    [Theory]
    [InlineData("device", "device:/dev/tpmrm0 or /dev/tpm0")]
    [InlineData("device:/dev/tpm1", "device:/dev/tpm1")]
    [InlineData("swtpm:127.0.0.1:2321", "swtpm:127.0.0.1:2321")]
    [InlineData("SWTPM:localhost:1", "swtpm:localhost:1")]
    [InlineData("swtpm:[::1]:2321", "swtpm:::1:2321")]
    [InlineData("mssim:10.0.0.5:2321", "mssim:10.0.0.5:2321")]
    [InlineData("unix:/run/swtpm.sock", "unix:/run/swtpm.sock")]
    public async Task Open_ParsesEachKind(string spec, string description)
    {
        await using var transport = TpmTransport.Open(spec);
        Assert.Equal(description, Assert.IsAssignableFrom<StreamTpmTransport>(transport).Description);
    }

    [Theory]
    [InlineData("")]
    [InlineData("tpm")]
    [InlineData("swtpm")]
    [InlineData("swtpm:localhost")]
    [InlineData("swtpm:localhost:0")]
    [InlineData("swtpm:localhost:65536")]
    [InlineData("swtpm::2321")]
    [InlineData("mssim:host:port")]
    [InlineData("unix:")]
    [InlineData("device:")]
    public void Open_MalformedSpec_ThrowsArgumentException(string spec)
        => Assert.ThrowsAny<ArgumentException>(() => TpmTransport.Open(spec));

    [Theory]
    [InlineData("software", null)]
    [InlineData("software:/var/lib/tpm", "/var/lib/tpm")]
    public async Task Open_Software_GivesTheInProcessTpmWithoutTouchingTheFolder(string spec, string? directory)
    {
        await using var transport = Assert.IsType<SoftwareTpmTransport>(TpmTransport.Open(spec));
        Assert.Equal(directory, transport.StateDirectory);
    }
}

using System.Security.Cryptography;
using System.Text;

namespace Provisioning.Device.Tests;

public sealed class SasTokenTests
{
    private static readonly DateTimeOffset Expiry = DateTimeOffset.FromUnixTimeSeconds(1700000000);

    [Fact]
    public async Task CreateSasToken_WithTheSection3Vector_MatchesTheKnownSignature()
    {
        using var attestation = new SymmetricKeyAttestation("device-01", Fakes.Dps.Key);

        string token = await attestation.CreateSasTokenAsync("0ne00000001/registrations/device-01", Expiry, "registration", TestContext.Current.CancellationToken);

        Assert.Equal(
            "SharedAccessSignature sr=0ne00000001%2Fregistrations%2Fdevice-01&sig=wywV4X7m7GUqLwuywP7BTq9i9WDS9H42R7k2%2FjvZ4gA%3D&se=1700000000&skn=registration",
            token);
    }

    [Fact]
    public async Task CreateSasToken_ForTheHub_HasNoKeyNameAndSignsTheEncodedResource()
    {
        using var attestation = new SymmetricKeyAttestation("device-01", Fakes.Dps.Key);

        string token = await attestation.CreateSasTokenAsync("contoso.azure-devices.net/devices/device-01", Expiry, cancellationToken: TestContext.Current.CancellationToken);

        string expectedSig = Convert.ToBase64String(HMACSHA256.HashData(
            Convert.FromBase64String(Fakes.Dps.Key), Encoding.UTF8.GetBytes("contoso.azure-devices.net%2Fdevices%2Fdevice-01\n1700000000")));
        Assert.Equal($"SharedAccessSignature sr=contoso.azure-devices.net%2Fdevices%2Fdevice-01&sig={Uri.EscapeDataString(expectedSig)}&se=1700000000", token);
    }

    [Fact]
    public void DeriveDeviceKey_WithTheSection3Vector_MatchesTheKnownKey()
    {
        Assert.Equal("YlH/UCsaA7mBBFGAlOysUKGTTAKpddEkTUFpC9ViNHA=", SymmetricKeyAttestation.DeriveDeviceKey(Fakes.Dps.Key, "device-01"));
    }

    [Fact]
    public async Task FromEnrollmentGroup_SignsWithTheDerivedKey()
    {
        using var group = SymmetricKeyAttestation.FromEnrollmentGroup("device-01", Fakes.Dps.Key);
        using var individual = new SymmetricKeyAttestation("device-01", "YlH/UCsaA7mBBFGAlOysUKGTTAKpddEkTUFpC9ViNHA=");

        string a = await group.CreateSasTokenAsync("r", Expiry, cancellationToken: TestContext.Current.CancellationToken);
        string b = await individual.CreateSasTokenAsync("r", Expiry, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(b, a);
        Assert.Equal("device-01", await group.GetRegistrationIdAsync(TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("not base64", "not base64!")]
    [InlineData("empty key", "")]
    public void SymmetricKeyAttestation_WithABadKey_ThrowsArgumentExceptionWithoutTheKey(string @case, string key)
    {
        Assert.NotNull(@case);
        ArgumentException ex = Assert.ThrowsAny<ArgumentException>(() => new SymmetricKeyAttestation("device-01", key));
        if (key.Length > 0)
        {
            Assert.DoesNotContain(key, ex.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task CreateSasToken_AfterDispose_Throws()
    {
        var attestation = new SymmetricKeyAttestation("device-01", Fakes.Dps.Key);
        attestation.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await attestation.CreateSasTokenAsync("r", Expiry, cancellationToken: TestContext.Current.CancellationToken));
    }
}

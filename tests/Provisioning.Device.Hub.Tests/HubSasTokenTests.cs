namespace Provisioning.Device.Hub.Tests;

/// <summary>The hub's device SAS (dps-protocol.md §8) comes from the one builder of Provisioning.Device, whatever signs it.</summary>
public sealed class HubSasTokenTests
{
    private const string Key = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    private static readonly DateTimeOffset Expiry = DateTimeOffset.FromUnixTimeSeconds(1700000000);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("plain device id", "device-01")]
    [InlineData("device id that needs escaping", "dev ice/01")]
    public async Task FromSymmetricKey_SignsExactlyAsTheAttestationWithTheSameKey(string @case, string deviceId)
    {
        Assert.NotNull(@case);
        using var authentication = HubAuthentication.FromSymmetricKey(Convert.FromBase64String(Key));
        using var attestation = new SymmetricKeyAttestation("device-01", Key);

        var fromKey = await authentication.CreateSasTokenAsync("contoso.azure-devices.net", deviceId, Expiry, Ct);
        var fromAttestation = await HubAuthentication.FromAttestation(attestation).CreateSasTokenAsync("contoso.azure-devices.net", deviceId, Expiry, Ct);

        Assert.Equal(fromAttestation, fromKey);
        Assert.StartsWith("SharedAccessSignature sr=contoso.azure-devices.net%2Fdevices%2F" + Uri.EscapeDataString(Uri.EscapeDataString(deviceId)) + "&sig=", fromKey, StringComparison.Ordinal);
        Assert.EndsWith("&se=1700000000", fromKey, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FromSymmetricKey_AfterDispose_NoLongerSigns()
    {
        var authentication = HubAuthentication.FromSymmetricKey(Convert.FromBase64String(Key));
        authentication.Dispose();

        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await authentication.CreateSasTokenAsync("h", "d", Expiry, Ct));
    }

    [Fact]
    public async Task FromSigner_WhenTheSignerReturnsNoHmacSha256_IsAHubException()
    {
        using var authentication = HubAuthentication.FromSigner((_, _) => ValueTask.FromResult(new byte[5]));

        await Assert.ThrowsAsync<HubException>(async () => await authentication.CreateSasTokenAsync("h", "d", Expiry, Ct));
    }
}

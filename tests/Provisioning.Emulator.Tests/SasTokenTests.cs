using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Tests;

/// <summary>dps-protocol.md §3 and §11.3 vectors against the emulator's SAS parser and checker.</summary>
public sealed class SasTokenTests
{
    private static readonly byte[] Key = Convert.FromBase64String("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
    private const string Resource = "0ne00000001/registrations/device-01";
    private static readonly DateTimeOffset BeforeExpiry = DateTimeOffset.FromUnixTimeSeconds(1_699_999_000);

    [Theory]
    [InlineData("Upper-case escapes (C# SDK)", "0ne00000001%2Fregistrations%2Fdevice-01", "wywV4X7m7GUqLwuywP7BTq9i9WDS9H42R7k2%2FjvZ4gA%3D")]
    [InlineData("Escaped signature in lower case", "0ne00000001%2Fregistrations%2Fdevice-01", "wywV4X7m7GUqLwuywP7BTq9i9WDS9H42R7k2%2fjvZ4gA%3d")]
    public void Check_WithTheDocumentedVector_IsValid(string name, string sr, string sig)
    {
        var token = SasToken.TryParse($"SharedAccessSignature sr={sr}&sig={sig}&se=1700000000&skn=registration");

        Assert.NotNull(token);
        Assert.True(token.Check(Key, Resource, "registration", BeforeExpiry, TimeSpan.Zero) == SasCheck.Valid, name);
    }

    [Fact]
    public void Check_WithLowerCaseResourceEscapes_VerifiesOverTheTextAsReceived()
    {
        // The C SDK signs "…%2fregistrations%2f…": a different string-to-sign, hence a different signature, still valid.
        var sr = "0ne00000001%2fregistrations%2fdevice-01";
        var sig = Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(Key, System.Text.Encoding.UTF8.GetBytes(sr + "\n1700000000")));
        var token = SasToken.TryParse($"SharedAccessSignature sr={sr}&sig={Uri.EscapeDataString(sig)}&se=1700000000&skn=registration")!;

        Assert.Equal(SasCheck.Valid, token.Check(Key, Resource, "registration", BeforeExpiry, TimeSpan.Zero));
        Assert.NotEqual("wywV4X7m7GUqLwuywP7BTq9i9WDS9H42R7k2/jvZ4gA=", sig);
    }

    [Theory]
    [InlineData("Expired beyond the skew", 1_700_000_061, 60, false)]
    [InlineData("Expired within the skew", 1_700_000_059, 60, true)]
    [InlineData("Expired with no skew", 1_700_000_001, 0, false)]
    public void Check_AroundExpiry_HonoursTheSkew(string name, long now, int skewSeconds, bool valid)
    {
        var token = SasToken.TryParse("SharedAccessSignature sr=0ne00000001%2Fregistrations%2Fdevice-01&sig=wywV4X7m7GUqLwuywP7BTq9i9WDS9H42R7k2%2FjvZ4gA%3D&se=1700000000&skn=registration")!;

        Assert.True(token.Check(Key, Resource, "registration", DateTimeOffset.FromUnixTimeSeconds(now), TimeSpan.FromSeconds(skewSeconds)) == (valid ? SasCheck.Valid : SasCheck.Expired), name);
    }

    [Fact]
    public void Check_WithTheLastRepresentableExpiryAndASkew_DoesNotOverflow()
    {
        var se = "253402300799";
        var sr = "0ne00000001%2Fregistrations%2Fdevice-01";
        var sig = Convert.ToBase64String(System.Security.Cryptography.HMACSHA256.HashData(Key, System.Text.Encoding.UTF8.GetBytes(sr + "\n" + se)));
        var token = SasToken.TryParse($"SharedAccessSignature sr={sr}&sig={Uri.EscapeDataString(sig)}&se={se}&skn=registration")!;

        Assert.Equal(SasCheck.Valid, token.Check(Key, Resource, "registration", BeforeExpiry, TimeSpan.FromMinutes(1)));
    }

    [Theory]
    [InlineData("Another registration", "0ne00000001/registrations/device-02", "registration")]
    [InlineData("Another key name", Resource, "provisioningserviceowner")]
    public void Check_WithWrongAudienceOrKeyName_IsWrongAudience(string name, string expectedResource, string expectedKeyName)
    {
        var token = SasToken.TryParse("SharedAccessSignature sr=0ne00000001%2Fregistrations%2Fdevice-01&sig=wywV4X7m7GUqLwuywP7BTq9i9WDS9H42R7k2%2FjvZ4gA%3D&se=1700000000&skn=registration")!;

        Assert.True(token.Check(Key, expectedResource, expectedKeyName, BeforeExpiry, TimeSpan.Zero) == SasCheck.WrongAudience, name);
    }

    [Theory]
    [InlineData("No prefix", "sr=a&sig=AAAA&se=1")]
    [InlineData("No signature", "SharedAccessSignature sr=a&se=1")]
    [InlineData("Signature not base64", "SharedAccessSignature sr=a&sig=%%%&se=1")]
    [InlineData("Expiry not a number", "SharedAccessSignature sr=a&sig=AAAA&se=soon")]
    [InlineData("Pair without value separator", "SharedAccessSignature sr=a&sig=AAAA&se=1&junk")]
    public void TryParse_WithMalformedToken_ReturnsNull(string name, string header)
    {
        Assert.True(SasToken.TryParse(header) is null, name);
    }

    [Fact]
    public void DeriveDeviceKey_WithTheDocumentedVector_MatchesIt()
    {
        var pair = new SymmetricKeyPair("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");

        Assert.Equal("YlH/UCsaA7mBBFGAlOysUKGTTAKpddEkTUFpC9ViNHA=", pair.DeriveDeviceKey("device-01"));
    }
}

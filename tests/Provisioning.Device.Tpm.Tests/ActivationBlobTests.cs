namespace Provisioning.Device.Tpm.Tests;

public sealed class ActivationBlobTests
{
    private const string IdentityKeyPublic = "0008" + "000B" + "00040040" + "0000" + "0005" + "000B" + "0020" + "1111111111111111111111111111111111111111111111111111111111111111";

    private static string Valid => "0003" + "AAAAAA" + "0002" + "BBBB" + "0001" + "CC" + "0002" + "DDDD" + "0030" + IdentityKeyPublic + "0000";

    [Fact]
    public void Parse_SplitsTheSixParts()
    {
        var blob = ActivationBlob.Parse(Convert.FromHexString(Valid));
        Assert.Equal("AAAAAA", Convert.ToHexString(blob.CredentialBlob.Span));
        Assert.Equal("BBBB", Convert.ToHexString(blob.Secret.Span));
        Assert.Equal("CC", Convert.ToHexString(blob.Duplicate.Span));
        Assert.Equal("DDDD", Convert.ToHexString(blob.InSymSeed.Span));
        Assert.Equal(IdentityKeyPublic, Convert.ToHexString(blob.ObjectPublic.Span));
    }

    [Fact]
    public void Parse_IgnoresTheContentsOfEncData()
        => ActivationBlob.Parse(Convert.FromHexString(Valid[..^4] + "0002" + "EEEE"));

    [Theory]
    [InlineData("empty blob", "")]
    [InlineData("cut inside the first size", "00")]
    [InlineData("credential size past the end", "00FF" + "AAAA")]
    [InlineData("missing encData", "0003" + "AAAAAA" + "0002" + "BBBB" + "0001" + "CC" + "0002" + "DDDD" + "0030" + IdentityKeyPublic)]
    [InlineData("trailing byte", "0003" + "AAAAAA" + "0002" + "BBBB" + "0001" + "CC" + "0002" + "DDDD" + "0030" + IdentityKeyPublic + "0000" + "00")]
    [InlineData("empty secret", "0003" + "AAAAAA" + "0000" + "0001" + "CC" + "0002" + "DDDD" + "0030" + IdentityKeyPublic + "0000")]
    [InlineData("identity key that is RSA", "0003" + "AAAAAA" + "0002" + "BBBB" + "0001" + "CC" + "0002" + "DDDD" + "0018" + "0001000B000304720000000600800043001008000000000000" + "0000")]
    public void Parse_BrokenContainer_ThrowsTpmFormatException(string name, string hex)
        => Assert.False(string.IsNullOrEmpty(Assert.Throws<TpmFormatException>(() => ActivationBlob.Parse(Convert.FromHexString(hex))).Message), name);
}

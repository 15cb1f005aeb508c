namespace Provisioning.Device.Tpm.Tests;

public sealed class TpmPublicTests
{
    [Fact]
    public void EkTemplate_MarshalsToTheBytesOfDpsProtocol22()
    {
        var bytes = TpmTemplates.EndorsementKey.ToTpm2B();
        Assert.Equal(316, bytes.Length);
        Assert.StartsWith("AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S", Convert.ToBase64String(bytes), StringComparison.Ordinal);
        Assert.Equal(
            "013A" + "0001" + "000B" + "000300B2" + "0020" + "837197674484B3F81A90CC8D46A5D724FD52D76E06520B64F2A1DA1B331469AA"
            + "0006" + "0080" + "0043" + "0010" + "0800" + "00000000" + "0100",
            Convert.ToHexString(bytes.AsSpan(0, 60)));
        Assert.All(bytes[60..], b => Assert.Equal(0, b));
    }

    [Fact]
    public void SrkTemplate_MarshalsToTheBytesOfDpsProtocol22()
    {
        var bytes = TpmTemplates.StorageRootKey.ToTpm2B();
        Assert.Equal(284, bytes.Length);
        Assert.StartsWith("ARoAAQALAAMEcgAA", Convert.ToBase64String(bytes), StringComparison.Ordinal);
    }

    [Fact]
    public void RoundTrip_ParsesWhatItWrites()
    {
        var bytes = TpmTemplates.EndorsementKey.ToTpm2B();
        var parsed = TpmPublic.FromTpm2B(bytes);
        Assert.True(parsed.MatchesTemplate(TpmTemplates.EndorsementKey));
        Assert.False(parsed.MatchesTemplate(TpmTemplates.StorageRootKey));
        Assert.Equal(bytes, parsed.ToTpm2B());
    }

    [Theory]
    [InlineData("HMAC-SHA256 keyed hash, no policy (DPS identity key, 50 bytes)",
        "0030" + "0008" + "000B" + "00040040" + "0000" + "0005" + "000B" + "0020" + "1111111111111111111111111111111111111111111111111111111111111111")]
    [InlineData("symcipher AES-128-CFB",
        "0016" + "0025" + "000B" + "00060072" + "0000" + "0006" + "0080" + "0043" + "0004" + "AABBCCDD")]
    public void OtherTypes_RoundTrip(string name, string hex)
    {
        var bytes = Convert.FromHexString(hex);
        Assert.True(Convert.ToHexString(TpmPublic.FromTpm2B(bytes).ToTpm2B()) == hex, name);
    }

    [Theory]
    [InlineData("ECC is not one of ours", "0004" + "0023" + "000B")]
    [InlineData("TPM2B size beyond its contents", "0016" + "0025" + "000B" + "00060072" + "0000" + "0006" + "0080" + "0043" + "0004" + "AABBCC")]
    [InlineData("TPM2B size one short of its contents", "0015" + "0025" + "000B" + "00060072" + "0000" + "0006" + "0080" + "0043" + "0004" + "AABBCCDD")]
    [InlineData("trailing byte after the TPM2B", "0012" + "0025" + "000B" + "00060072" + "0000" + "0006" + "0080" + "0043" + "0000" + "FF")]
    [InlineData("RSA unique above 512 bytes", "001A" + "0001" + "000B" + "00030472" + "0000" + "0006" + "0080" + "0043" + "0010" + "0800" + "00000000" + "0201")]
    [InlineData("keyed-hash scheme that is not one", "000E" + "0008" + "000B" + "00040040" + "0000" + "0001" + "0000")]
    public void Malformed_ThrowsTpmFormatException(string name, string hex)
        => Assert.False(string.IsNullOrEmpty(Assert.Throws<TpmFormatException>(() => TpmPublic.FromTpm2B(Convert.FromHexString(hex))).Message), name);

    [Fact]
    public void Name_IsNameAlgThenSha256OfTheTpmtPublic()
    {
        var template = TpmTemplates.StorageRootKey;
        var expected = "000B" + Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(template.ToTpm2B().AsSpan(2)));
        Assert.Equal(expected, Convert.ToHexString(template.ComputeName()));
    }
}

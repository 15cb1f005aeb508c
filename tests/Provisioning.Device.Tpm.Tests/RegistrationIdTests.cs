namespace Provisioning.Device.Tpm.Tests;

public sealed class RegistrationIdTests
{
    [Fact]
    public void FromEndorsementKey_MatchesTheVectorOfDpsProtocol25()
        => Assert.Equal("un4jahv4cdr7rgz3jczknzja3jgon43u6fxovm6zss4tix2xjmoq", RegistrationId.FromEndorsementKey(TpmTemplates.EndorsementKey.ToTpm2B()));

    [Theory]
    [InlineData("RFC 4648 empty", "", "")]
    [InlineData("RFC 4648 f", "f", "my")]
    [InlineData("RFC 4648 fo", "fo", "mzxq")]
    [InlineData("RFC 4648 foo", "foo", "mzxw6")]
    [InlineData("RFC 4648 foob", "foob", "mzxw6yq")]
    [InlineData("RFC 4648 fooba", "fooba", "mzxw6ytb")]
    [InlineData("RFC 4648 foobar", "foobar", "mzxw6ytboi")]
    public void Base32_MatchesRfc4648LowercaseUnpadded(string name, string input, string expected)
        => Assert.True(expected == RegistrationId.Base32(System.Text.Encoding.ASCII.GetBytes(input)), name);
}

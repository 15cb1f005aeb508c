using System.Text;

namespace Provisioning.Device.Tpm.Tests;

public sealed class TpmAuthValueTests
{
    [Theory]
    [InlineData("str:owner pass", "6F776E65722070617373")]
    [InlineData("plain", "706C61696E")]
    [InlineData("hex:00FF10", "00FF10")]
    [InlineData("hex:0x0a0b", "0A0B")]
    [InlineData("str:", "")]
    [InlineData("hex:", "")]
    [InlineData("str:hex:41", "6865783A3431")]
    public void Forms_AsTpm2Tools(string value, string expectedHex)
        => Assert.Equal(expectedHex, Convert.ToHexString(TpmAuthValue.Parse(value)));

    [Fact]
    public void File_IsReadAsItIs_TrailingNewlineIncluded()
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, "secret\n");
            Assert.Equal("secret\n", Encoding.UTF8.GetString(TpmAuthValue.Parse("file:" + path)));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Env_ReadsTheVariable_AndAMissingOneIsNamed()
    {
        var name = "PROVISIONING_TEST_AUTH_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(name, "from-env");
        try
        {
            Assert.Equal("from-env", Encoding.UTF8.GetString(TpmAuthValue.Parse("env:" + name)));
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }

        var error = Assert.Throws<ArgumentException>(() => TpmAuthValue.Parse("env:" + name, "--owner-auth"));
        Assert.Contains(name, error.Message, StringComparison.Ordinal);
        Assert.Contains("--owner-auth", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("hex:abc", "even number")]
    [InlineData("hex:zz-secret-zz", "hexadecimal")]
    [InlineData("file:", "needs a path")]
    [InlineData("file:/nonexistent/secret-file", "does not exist")]
    [InlineData("env:", "variable name")]
    public void Malformed_IsAnArgumentException_ThatNeverEchoesTheValue(string value, string expected)
    {
        var error = Assert.Throws<ArgumentException>(() => TpmAuthValue.Parse(value, "--endorsement-auth"));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains("--endorsement-auth", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("zz-secret-zz", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TooLong_IsRefused_WithoutTheValue()
    {
        var secret = new string('s', TpmAuthValue.MaxSize + 1);
        var error = Assert.Throws<ArgumentException>(() => TpmAuthValue.Parse("str:" + secret, "--owner-auth"));
        Assert.Contains("at most 64", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, error.Message, StringComparison.Ordinal);
        Assert.Equal(64, TpmAuthValue.Parse("str:" + secret[1..]).Length);
    }
}

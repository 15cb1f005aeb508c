using System.Text;
using Provisioning.Emulator.Tpm;

namespace Provisioning.Emulator.Tests.Tpm;

public sealed class TpmKdfTests
{
    // Vectors: the first is the TCG reference implementation's KDFa self-test (KdfTestData.h, SHA-256 case).
    // The others were computed with OpenSSL 3's SP 800-108 KBKDF (counter mode, HMAC-SHA256, separator and [L]32 on),
    // whose input block is exactly KDFa's: `openssl kdf -keylen N -kdfopt mac:HMAC -kdfopt digest:SHA256
    // -kdfopt hexkey:K -kdfopt salt:LABEL -kdfopt hexinfo:CONTEXT KBKDF`; it reproduces the TCG vector too.
    [Theory]
    [InlineData("TCG reference self-test (label with its NUL, 160 bits)", "271FA08BBDC5060EC3DFA928FF9B73123A12DA0C", "KDFSELFTESTLABEL\0", "CE244F395DCA7391", "DA504031DDF12E83", "bb0259e1c8ba607e6a2cd704b69a902e9ade84c4")]
    [InlineData("same, NUL added by KDFa", "271FA08BBDC5060EC3DFA928FF9B73123A12DA0C", "KDFSELFTESTLABEL", "CE244F395DCA7391", "DA504031DDF12E83", "bb0259e1c8ba607e6a2cd704b69a902e9ade84c4")]
    [InlineData("STORAGE, name as contextU, 128 bits", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "STORAGE", "000bba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "", "aa3a2f8cf3049d3e74e13d0e20f4a2aa")]
    [InlineData("INTEGRITY, no context, 256 bits", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "INTEGRITY", "", "", "bacf689f634ece301e1f1b15b072d9c87db6a69585db42b1a0cb8f73ebe2692e")]
    [InlineData("two blocks, 320 bits", "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", "DUPLICATE", "", "", "cfa86744d44b920ef1a422942f8b5fa31efc5c7be168422c552f4b0c23562754e23b316e2bf246eb")]
    public void KdfA_MatchesPublishedAndIndependentVectors(string @case, string keyHex, string label, string contextUHex, string contextVHex, string expectedHex)
    {
        var output = new byte[expectedHex.Length / 2];

        TpmKdf.KdfA(Convert.FromHexString(keyHex), label, Convert.FromHexString(contextUHex), Convert.FromHexString(contextVHex), output);

        Assert.True(expectedHex.Equals(Convert.ToHexStringLower(output), StringComparison.OrdinalIgnoreCase), @case);
    }

    [Fact]
    public void KdfA_ShorterOutput_IsNotAPrefixOfTheLonger_BecauseTheLengthIsHashedIn()
    {
        var key = Encoding.ASCII.GetBytes("key");
        var short16 = new byte[16];
        var long32 = new byte[32];

        TpmKdf.KdfA(key, "STORAGE", default, default, short16);
        TpmKdf.KdfA(key, "STORAGE", default, default, long32);

        Assert.NotEqual(short16, long32[..16]);
    }
}

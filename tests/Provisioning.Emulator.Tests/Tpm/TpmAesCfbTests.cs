using Provisioning.Emulator.Tpm;

namespace Provisioning.Emulator.Tests.Tpm;

public sealed class TpmAesCfbTests
{
    // Expected values from `openssl enc -aes-128-cfb -K 2b7e151628aed2a6abf7158809cf4f3c -iv 00…00 -nopad`
    // (OpenSSL's aes-128-cfb is full-block CFB-128, the TPM's mode); the key is SP 800-38A's example key.
    [Theory]
    [InlineData("credential TPM2B (18 bytes: one block and a partial one)", "00106bc1bee22e409f96e93d7e117393172a", "7de700cda45ab7f3a1d4197ac70a27fcc76e")]
    [InlineData("four whole blocks (SP 800-38A plaintext)", "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710", "1636d5ee34f80625d77f8e56ca88434586360140d4086cfd51de95ea001f81dce3600d8bc70a66d42f560bcb48fa1a77e3c954c288654691d76c291c3c96ff14")]
    [InlineData("one byte", "6b", "16")]
    public void Encrypt_WithZeroIv_MatchesOpenSslCfb128(string @case, string plaintextHex, string expectedHex)
    {
        var plaintext = Convert.FromHexString(plaintextHex);
        var output = new byte[plaintext.Length];

        TpmAesCfb.Encrypt(Convert.FromHexString("2b7e151628aed2a6abf7158809cf4f3c"), plaintext, output);

        Assert.True(expectedHex == Convert.ToHexStringLower(output), @case);
    }

    [Fact]
    public void Encrypt_InPlace_GivesTheSameCiphertext()
    {
        var key = Convert.FromHexString("2b7e151628aed2a6abf7158809cf4f3c");
        var buffer = Convert.FromHexString("00106bc1bee22e409f96e93d7e117393172a");

        TpmAesCfb.Encrypt(key, buffer, buffer);

        Assert.Equal("7de700cda45ab7f3a1d4197ac70a27fcc76e", Convert.ToHexStringLower(buffer));
    }
}

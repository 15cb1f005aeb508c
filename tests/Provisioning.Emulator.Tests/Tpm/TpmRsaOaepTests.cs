using System.Security.Cryptography;
using Provisioning.Emulator.Tpm;

namespace Provisioning.Emulator.Tests.Tpm;

public sealed class TpmRsaOaepTests
{
    private static readonly byte[] Message = Convert.FromHexString("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
    private static readonly byte[] OaepSeed = Convert.FromHexString("202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f");

    [Fact]
    public void Encrypt_WithEmptyLabel_IsDecryptedByDotNetOaepSha256()
    {
        // .NET's own OAEP (empty label) is an independent decoder of the encoding and of the public-key operation.
        using var rsa = RSA.Create(2048);
        var p = rsa.ExportParameters(false);
        var ciphertext = new byte[256];

        TpmRsaOaep.Encrypt(p.Modulus, 65537, [], Message, OaepSeed, ciphertext);

        Assert.Equal(Message, rsa.Decrypt(ciphertext, RSAEncryptionPadding.OaepSHA256));
    }

    // The encoded block for label "IDENTITY\0"; checked with OpenSSL when written down: raw-RSA-encrypting it with an
    // `openssl genrsa` key and then `openssl pkeyutl -decrypt -pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256
    // -pkeyopt rsa_mgf1_md:sha256 -pkeyopt rsa_oaep_label:4944454e5449545900` gives Message back.
    private const string IdentityEncodedHex = "00a9d0d1206b7e973d813f95ee3c020621ff2711ea9f2fdeeb0881b468d5ea4e3b3cbcf74eabba875bb9a7783f00b0ef7909e6b9f3a85e26ce749e8274585c40889600a8046a9830b2ae84c55dc49b53bfb07e4416ff17d132a085492306843cb385928bd3928f0ca90c829527827ffbf66d53b3f432ca7b8047548adb239476d4c74872b248fbc223a500af5dff3b2d6499b3fe03ecb4d11433ad723d8cd82674906b3183587dc2b9da5081b07cbf070ffb7adecd2c251f0d7102db074b638812c66504845bbfab36b4987e8dcb61cadbed41b7105d8c625307c91ecf8491fd1b85e20d3188b223332e4115114c3b90f40e24c37133d05a2faea299bae8178c";

    [Fact]
    public void Encode_WithIdentityLabel_MatchesTheOpenSslCheckedBlock()
    {
        var encoded = new byte[256];

        TpmRsaOaep.Encode("IDENTITY\0"u8, Message, OaepSeed, encoded);

        Assert.Equal(IdentityEncodedHex, Convert.ToHexStringLower(encoded));
    }

    [Fact]
    public void Encode_DifferentLabels_GiveDifferentBlocks()
    {
        var identity = new byte[256];
        var duplicate = new byte[256];

        TpmRsaOaep.Encode("IDENTITY\0"u8, Message, OaepSeed, identity);
        TpmRsaOaep.Encode("DUPLICATE\0"u8, Message, OaepSeed, duplicate);

        Assert.NotEqual(identity, duplicate);
        Assert.Equal(0, identity[0]);
    }
}

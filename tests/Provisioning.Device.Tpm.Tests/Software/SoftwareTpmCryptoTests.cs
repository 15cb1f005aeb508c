using static Provisioning.Device.Tpm.Tests.Software.SoftwareTpmVectors;

namespace Provisioning.Device.Tpm.Tests.Software;

public sealed class SoftwareTpmCryptoTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex);

    [Theory]
    [InlineData("STORAGE, Name, 128 bits", "STORAGE", CredentialName, "", 16, KdfStorage)]
    [InlineData("INTEGRITY, no context, 256 bits", "INTEGRITY", "", "", 32, KdfIntegrity)]
    [InlineData("TEST, both contexts, 512 bits (two blocks)", "TEST", "0102", "03", 64, KdfTwoBlocks)]
    public void KdfA_MatchesKnownAnswer(string name, string label, string contextU, string contextV, int bytes, string expected)
    {
        _ = name;
        var output = new byte[bytes];
        SoftwareTpmKdf.KdfA(KdfKey, System.Text.Encoding.ASCII.GetBytes(label), Hex(contextU), Hex(contextV), output);
        Assert.Equal(expected, Convert.ToHexStringLower(output));
    }

    [Fact]
    public void KdfA_LabelWithOrWithoutTerminatingZero_GivesTheSameKey()
    {
        var a = new byte[16];
        var b = new byte[16];
        SoftwareTpmKdf.KdfA(KdfKey, "STORAGE"u8, Hex(CredentialName), default, a);
        SoftwareTpmKdf.KdfA(KdfKey, SoftwareTpmKdf.Storage, Hex(CredentialName), default, b);
        Assert.Equal(a, b);
    }

    [Fact]
    public void CredentialToSecret_KnownAnswer_RecoversTheCredential()
        => Assert.Equal(Credential, Convert.ToHexStringLower(SoftwareTpmWrapping.CredentialToSecret(Hex(IdObject), Hex(CredentialName), Hex(CredentialSeed))));

    [Theory]
    [InlineData("integrity HMAC", 5)]
    [InlineData("encrypted identity", 40)]
    [InlineData("last byte", 51)]
    public void CredentialToSecret_FlippedBit_IsAnIntegrityFailure(string name, int offset)
    {
        _ = name;
        var blob = Hex(IdObject);
        blob[offset] ^= 0x01;
        var fault = Assert.Throws<SoftwareTpmFault>(() => SoftwareTpmWrapping.CredentialToSecret(blob, Hex(CredentialName), Hex(CredentialSeed)));
        Assert.Equal(TpmResponseCode.Integrity, fault.ResponseCode);
    }

    [Fact]
    public void CredentialToSecret_OtherName_IsAnIntegrityFailure()
    {
        var name = Hex(CredentialName);
        name[^1] ^= 0x80;
        Assert.Equal(TpmResponseCode.Integrity, Assert.Throws<SoftwareTpmFault>(() => SoftwareTpmWrapping.CredentialToSecret(Hex(IdObject), name, Hex(CredentialSeed))).ResponseCode);
    }

    [Fact]
    public void DuplicateToSensitive_KnownAnswer_RecoversTheSensitiveArea()
        => Assert.Equal(
            DuplicateSensitive,
            Convert.ToHexStringLower(SoftwareTpmWrapping.DuplicateToSensitive(Hex(Duplicate), Hex(DuplicateName), Hex(DuplicateSeed), Hex(DuplicateInnerKey))));

    [Fact]
    public void DuplicateToSensitive_WrongInnerKey_IsRefusedNotDecoded()
    {
        var inner = Hex(DuplicateInnerKey);
        inner[0] ^= 0x01;
        var fault = Assert.Throws<SoftwareTpmFault>(() => SoftwareTpmWrapping.DuplicateToSensitive(Hex(Duplicate), Hex(DuplicateName), Hex(DuplicateSeed), inner));
        Assert.Contains(fault.ResponseCode, new[] { TpmResponseCode.Integrity, TpmResponseCode.Size, SoftwareTpmRc.Insufficient });
    }

    [Fact]
    public void DuplicateName_IsTheNameOfThePublicArea()
    {
        var reader = new TpmReader(Hex(DuplicatePublic));
        Assert.Equal(DuplicateName, Convert.ToHexStringLower(TpmPublic.Read(ref reader).ComputeName()));
    }

    [Fact]
    public void SensitiveToPrivate_RoundTripsThroughPrivateToSensitive_AndDetectsTampering()
    {
        var parentSeed = Enumerable.Repeat((byte)0x66, 32).ToArray();
        var sensitive = Hex(DuplicateSensitive);
        var outPrivate = SoftwareTpmWrapping.SensitiveToPrivate(sensitive, Hex(DuplicateName), parentSeed);
        Assert.Equal(sensitive, SoftwareTpmWrapping.PrivateToSensitive(outPrivate, Hex(DuplicateName), parentSeed));

        outPrivate[^1] ^= 0x01;
        Assert.Equal(TpmResponseCode.Integrity, Assert.Throws<SoftwareTpmFault>(() => SoftwareTpmWrapping.PrivateToSensitive(outPrivate, Hex(DuplicateName), parentSeed)).ResponseCode);
    }

    [Fact]
    public void DecryptOaep_WithIdentityLabel_KnownAnswer_GivesTheSeed()
    {
        var key = SoftwareTpmRsaKey.Import(Hex(RsaPkcs1));
        Assert.Equal(CredentialSeed, Convert.ToHexStringLower(key.DecryptOaep(Hex(OaepIdentity), "IDENTITY\0"u8)!));
    }

    [Theory]
    [InlineData("other label", "DUPLICATE\0", -1)]
    [InlineData("label without its zero", "IDENTITY", -1)]
    [InlineData("flipped last bit", "IDENTITY\0", 255)]
    public void DecryptOaep_WrongLabelOrCiphertext_ReturnsNull(string name, string label, int flip)
    {
        _ = name;
        var key = SoftwareTpmRsaKey.Import(Hex(RsaPkcs1));
        var ciphertext = Hex(OaepIdentity);
        if (flip >= 0)
        {
            ciphertext[flip] ^= 0x01;
        }

        Assert.Null(key.DecryptOaep(ciphertext, System.Text.Encoding.ASCII.GetBytes(label)));
    }

    [Fact]
    public void DecryptOaep_CiphertextNotBelowModulus_IsTpmRcSize()
    {
        var key = SoftwareTpmRsaKey.Import(Hex(RsaPkcs1));
        Assert.Equal(TpmResponseCode.Size, Assert.Throws<SoftwareTpmFault>(() => key.DecryptOaep(Enumerable.Repeat((byte)0xFF, 256).ToArray(), "IDENTITY\0"u8)).ResponseCode);
        Assert.Equal(TpmResponseCode.Size, Assert.Throws<SoftwareTpmFault>(() => key.DecryptOaep(new byte[255], "IDENTITY\0"u8)).ResponseCode);
    }

    [Theory]
    [InlineData("empty", 0)]
    [InlineData("one byte", 1)]
    [InlineData("one block", 16)]
    [InlineData("partial last block", 35)]
    public void Cfb_MatchesDotNetCfb128OnWholeBlocks_AndRoundTrips(string name, int length)
    {
        _ = name;
        var key = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        var iv = Enumerable.Range(100, 16).Select(i => (byte)i).ToArray();
        var plain = Enumerable.Range(0, length).Select(i => (byte)(i * 7)).ToArray();
        var data = (byte[])plain.Clone();
        SoftwareTpmCfb.Encrypt(key, iv, data);
        using var aes = System.Security.Cryptography.Aes.Create();
        aes.Key = key;
        var padded = new byte[(length + 15) / 16 * 16];
        plain.CopyTo(padded, 0);
        var reference = aes.EncryptCfb(padded, iv, System.Security.Cryptography.PaddingMode.None, 128);
        Assert.Equal(reference.AsSpan(0, length).ToArray(), data);
        SoftwareTpmCfb.Decrypt(key, iv, data);
        Assert.Equal(plain, data);
    }

    [Fact]
    public void SwtpmMadeCredential_OpensWithTheEkKey_ToTheCredential()
    {
        var reader = new TpmReader(Hex(SwtpmCredential));
        var idObject = reader.ReadSized().ToArray();
        var secret = reader.ReadSized().ToArray();
        reader.EnsureAtEnd("credential file");
        var seed = SoftwareTpmRsaKey.Import(Hex(RsaPkcs1)).DecryptOaep(secret, "IDENTITY\0"u8);
        Assert.NotNull(seed);
        Assert.Equal("SWTPM-KAT-CRED!!"u8.ToArray(), SoftwareTpmWrapping.CredentialToSecret(idObject, Hex(SwtpmSrkName), seed));
    }

    [Fact]
    public void SwtpmMadeDuplicate_OpensWithTheSrkKeyAndInnerKey_ToTheHmacKey()
    {
        var seedReader = new TpmReader(Hex(SwtpmDuplicateSeed));
        var seed = SoftwareTpmRsaKey.Import(Hex(RsaPkcs1)).DecryptOaep(seedReader.ReadSized(), "DUPLICATE\0"u8);
        Assert.NotNull(seed);
        var publicReader = new TpmReader(Hex(SwtpmDuplicatePublic));
        var name = SoftwareTpmObject.NameOf(publicReader.ReadSized());
        var duplicateReader = new TpmReader(Hex(SwtpmDuplicate));
        var innerKey = Enumerable.Range(0x70, 16).Select(i => (byte)i).ToArray();

        var sensitive = SoftwareTpmWrapping.DuplicateToSensitive(duplicateReader.ReadSized(), name, seed, innerKey);

        // TPMT_SENSITIVE: KEYEDHASH, an all-zero authValue (as swtpm carries an empty one: trailing zeros are not significant),
        // a 32-byte seedValue, then the HMAC key 40..5F.
        var reader = new TpmReader(sensitive);
        Assert.Equal((ushort)TpmAlgorithm.KeyedHash, reader.ReadUInt16());
        Assert.Equal(new byte[32], reader.ReadSized().ToArray());
        Assert.Equal(32, reader.ReadSized().Length);
        Assert.Equal(Enumerable.Range(0x40, 32).Select(i => (byte)i).ToArray(), reader.ReadSized().ToArray());
        Assert.True(reader.IsAtEnd);
    }
}

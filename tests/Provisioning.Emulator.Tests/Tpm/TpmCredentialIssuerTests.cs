using System.Security.Cryptography;
using Provisioning.Emulator.Tpm;

namespace Provisioning.Emulator.Tests.Tpm;

public sealed class TpmCredentialIssuerTests
{
    private static readonly byte[] SampleEk = TpmTestKeys.Ek(TpmTestKeys.SampleModulus(0xA5));
    private static readonly byte[] SampleSrk = TpmTestKeys.Srk(TpmTestKeys.SampleModulus(0x3C));

    [Fact]
    public void Issue_BlobHasTheDpsShape_54_258_144_258_50_2()
    {
        var issued = new TpmCredentialIssuer().Issue(SampleEk, SampleSrk);

        var parts = TpmTestKeys.SplitBlob(issued.AuthenticationKey);
        Assert.Equal([54, 258, 144, 258, 50, 2], parts.Select(p => p.Length));
        Assert.Equal(766, issued.AuthenticationKey.Length);
        Assert.Equal(32, issued.IdentityKey.Length);

        // TPM2B_ID_OBJECT: size 52, integrityHMAC TPM2B_DIGEST(32), then 18 bytes of encIdentity.
        Assert.Equal("00340020", Convert.ToHexStringLower(parts[0].AsSpan(0, 4)));
        // TPM2B_PRIVATE: size 142, outer HMAC TPM2B_DIGEST(32), then 108 encrypted bytes.
        Assert.Equal("008e0020", Convert.ToHexStringLower(parts[2].AsSpan(0, 4)));
        Assert.Equal("0100", Convert.ToHexStringLower(parts[1].AsSpan(0, 2)));
        Assert.Equal("0100", Convert.ToHexStringLower(parts[3].AsSpan(0, 2)));
        Assert.Equal("0000", Convert.ToHexStringLower(parts[5]));
    }

    // The identity key's TPM2B_PUBLIC for known randomness (key 00..1f, seedValue 20..3f), computed independently
    // with Python's hashlib: KEYEDHASH, SHA-256, sign|userWithAuth (0x00040040), no policy, HMAC-SHA256 scheme,
    // unique = SHA-256(seedValue || key).
    private const string KnownPublicHex = "00300008000b0004004000000005000b002084e4bd6ca2af96412fdc62fe44d4e9709cdc31933081a62486a48a154b582d53";

    [Fact]
    public void Issue_WithKnownRandomness_WritesTheKnownPublicArea_AndReturnsTheFirstDrawAsTheKey()
    {
        var issued = new TpmCredentialIssuer(new CountingRandom().Fill).Issue(SampleEk, SampleSrk);

        Assert.Equal(KnownPublicHex, Convert.ToHexStringLower(TpmTestKeys.SplitBlob(issued.AuthenticationKey)[4]));
        Assert.Equal(CountingRandom.Range(0, 32), issued.IdentityKey);
    }

    [Fact]
    public void Issue_WithTheSameRandomness_IsDeterministic_AndWithFreshRandomnessIsNot()
    {
        var a = new TpmCredentialIssuer(new CountingRandom().Fill).Issue(SampleEk, SampleSrk);
        var b = new TpmCredentialIssuer(new CountingRandom().Fill).Issue(SampleEk, SampleSrk);
        var c = new TpmCredentialIssuer().Issue(SampleEk, SampleSrk);
        var d = new TpmCredentialIssuer().Issue(SampleEk, SampleSrk);

        Assert.Equal(a.AuthenticationKey, b.AuthenticationKey);
        Assert.NotEqual(c.IdentityKey, d.IdentityKey);
        Assert.NotEqual(c.AuthenticationKey, d.AuthenticationKey);
    }

    [Fact]
    public void Issue_OpenedInSoftwareWithThePrivateKeys_GivesBackTheInnerKeyAndTheIdentityKey()
    {
        using var ek = RSA.Create(2048);
        using var srk = RSA.Create(2048);
        var srkPublic = TpmTestKeys.Srk(TpmTestKeys.ModulusOf(srk));
        var issued = new TpmCredentialIssuer(new CountingRandom().Fill).Issue(TpmTestKeys.Ek(TpmTestKeys.ModulusOf(ek)), srkPublic);
        var parts = TpmTestKeys.SplitBlob(issued.AuthenticationKey);

        var credential = SoftwareTpmUnwrap.ActivateCredential(ek.ExportParameters(true), TpmTestKeys.NameOf(srkPublic), parts[0], parts[1]);
        var key = SoftwareTpmUnwrap.Import(srk.ExportParameters(true), credential, parts[4], parts[2], parts[3]);

        Assert.Equal(CountingRandom.Range(0x40, 16), credential); // the inner wrap key is the third draw
        Assert.Equal(issued.IdentityKey, key);
    }

    [Fact]
    public void Issue_OpenedInSoftwareWithTheWrongSrkName_FailsTheCredentialIntegrityCheck()
    {
        using var ek = RSA.Create(2048);
        var issued = new TpmCredentialIssuer().Issue(TpmTestKeys.Ek(TpmTestKeys.ModulusOf(ek)), SampleSrk);
        var parts = TpmTestKeys.SplitBlob(issued.AuthenticationKey);
        var otherName = TpmTestKeys.NameOf(TpmTestKeys.Srk(TpmTestKeys.SampleModulus(0x3D)));

        var ex = Assert.Throws<CryptographicException>(() => SoftwareTpmUnwrap.ActivateCredential(ek.ExportParameters(true), otherName, parts[0], parts[1]));
        Assert.Contains("credential integrity", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Issue_TheBlobCarriesNeitherThePlaintextKeyNorTheInnerKey()
    {
        var issued = new TpmCredentialIssuer(new CountingRandom().Fill).Issue(SampleEk, SampleSrk);

        Assert.Equal(-1, issued.AuthenticationKey.AsSpan().IndexOf(issued.IdentityKey));
        Assert.Equal(-1, issued.AuthenticationKey.AsSpan().IndexOf(CountingRandom.Range(0x40, 16)));
    }

    [Fact]
    public void Issue_ForTheRecordedSwtpmKeys_WithKnownRandomness_ReproducesTheBlobSwtpmActivated()
    {
        var issued = new TpmCredentialIssuer(new CountingRandom().Fill).Issue(
            Convert.FromHexString(SwtpmRecordedVectors.EndorsementKeyHex),
            Convert.FromHexString(SwtpmRecordedVectors.StorageRootKeyHex));

        Assert.Equal(SwtpmRecordedVectors.AuthenticationKeyHex, Convert.ToHexStringLower(issued.AuthenticationKey));
        Assert.Equal(SwtpmRecordedVectors.HmacOfAbcHex, Convert.ToHexStringLower(HMACSHA256.HashData(issued.IdentityKey, "abc"u8)));
    }
}

using Provisioning.Emulator.Tpm;

namespace Provisioning.Emulator.Tests.Tpm;

/// <summary>What the device sends is checked against the dps-protocol.md §2.1 templates before any cryptography.</summary>
public sealed class TpmCredentialIssuerValidationTests
{
    private static readonly byte[] Modulus = TpmTestKeys.SampleModulus();
    private static readonly byte[] GoodEk = TpmTestKeys.Ek(Modulus);
    private static readonly byte[] GoodSrk = TpmTestKeys.Srk(TpmTestKeys.SampleModulus(0x3C));

    // The EK prefix of dps-protocol.md §2.2 (`AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S`) as hex: size 0x013A, RSA,
    // SHA-256, attributes 0x000300B2, 32-byte policy.
    private const string EkHeaderHex = "013a0001000b000300b20020837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa";

    public static TheoryData<string, byte[], string> BadEndorsementKeys => new()
    {
        { "empty", [], "The EK is truncated: TPM2B_PUBLIC size" },
        { "one byte", Convert.FromHexString("01"), "The EK is truncated: TPM2B_PUBLIC size" },
        { "header only, size says 314", Convert.FromHexString(EkHeaderHex), "size field says 314 byte(s) but 42 follow" },
        { "size field one short", WithSize(GoodEk, 313), "size field says 313 byte(s) but 314 follow" },
        { "size field one long", WithSize(GoodEk, 315), "size field says 315 byte(s) but 314 follow" },
        { "trailing byte after the TPM2B", [.. GoodEk, 0x00], "size field says 314 byte(s) but 315 follow" },
        { "trailing byte inside the TPM2B", WithSize([.. GoodEk, 0x00], 315), "1 unexpected trailing byte(s) after TPMT_PUBLIC" },
        { "truncated modulus (size consistent)", WithSize(GoodEk[..^10], 304), "unique (modulus) needs 256 byte(s)" },
        { "zero size", Convert.FromHexString("0000"), "The EK is truncated: type" },
        { "ECC key", TpmTestKeys.Public(0x000300B2, Policy, Modulus, type: 0x0023), "The EK: type is 0x0023; expected 0x0001 (TPM_ALG_RSA)" },
        { "nameAlg SHA-1", TpmTestKeys.Public(0x000300B2, Policy, Modulus, nameAlg: 0x0004), "The EK: nameAlg is 0x0004; expected 0x000B" },
        { "SRK attributes", TpmTestKeys.Public(0x00030472, Policy, Modulus), "The EK: objectAttributes are 0x00030472; expected 0x000300B2" },
        { "userWithAuth added", TpmTestKeys.Public(0x000300F2, Policy, Modulus), "objectAttributes are 0x000300F2" },
        { "not restricted (fixedTPM|...|decrypt only)", TpmTestKeys.Public(0x000200B2, Policy, Modulus), "objectAttributes are 0x000200B2" },
        { "empty policy", TpmTestKeys.Public(0x000300B2, [], Modulus), "The EK: authPolicy (0 byte(s)) is not the TCG EK policy" },
        { "policy with one bit flipped", TpmTestKeys.Public(0x000300B2, [.. Policy[..^1], (byte)(Policy[^1] ^ 1)], Modulus), "authPolicy (32 byte(s)) is not the TCG EK policy" },
        { "AES-256", TpmTestKeys.Public(0x000300B2, Policy, Modulus, symBits: 256), "symmetric.keyBits is 0x0100; expected 0x0080" },
        { "no symmetric (TPM_ALG_NULL)", TpmTestKeys.Public(0x000300B2, Policy, Modulus, symAlg: 0x0010), "symmetric.algorithm is 0x0010; expected 0x0006" },
        { "CBC mode", TpmTestKeys.Public(0x000300B2, Policy, Modulus, symMode: 0x0042), "symmetric.mode is 0x0042; expected 0x0043" },
        { "OAEP scheme", TpmTestKeys.Public(0x000300B2, Policy, Modulus, scheme: 0x0017), "scheme is 0x0017; expected 0x0010" },
        { "RSA-1024", TpmTestKeys.Public(0x000300B2, Policy, Modulus[..128], keyBits: 1024), "keyBits is 0x0400; expected 0x0800" },
        { "RSA-3072 modulus under a 2048 header", TpmTestKeys.Public(0x000300B2, Policy, [.. Modulus, .. Modulus[..128]]), "modulus is 384 byte(s); expected 256" },
        { "exponent 3", TpmTestKeys.Public(0x000300B2, Policy, Modulus, exponent: 3), "exponent is 3; expected 0 or 65537" },
        { "even modulus", TpmTestKeys.Ek([.. Modulus[..^1], 0x02]), "modulus is not an odd 2048-bit number" },
        { "modulus top bit clear", TpmTestKeys.Ek([0x7F, .. Modulus[1..]]), "modulus is not an odd 2048-bit number" },
    };

    public static TheoryData<string, byte[], string> BadStorageRootKeys => new()
    {
        { "EK sent as SRK", TpmTestKeys.Ek(Modulus), "The SRK: objectAttributes are 0x000300B2; expected 0x00030472" },
        { "SRK with a policy", TpmTestKeys.Public(0x00030472, Policy, Modulus), "The SRK: authPolicy has 32 byte(s)" },
        { "SRK not restricted", TpmTestKeys.Public(0x00020472, [], Modulus), "The SRK: objectAttributes are 0x00020472" },
        { "SRK nameAlg SHA-384", TpmTestKeys.Public(0x00030472, [], Modulus, nameAlg: 0x000C), "The SRK: nameAlg is 0x000C" },
        { "SRK AES-128-CFB replaced by NULL symmetric", TpmTestKeys.Public(0x00030472, [], Modulus, symAlg: 0x0010), "The SRK: symmetric.algorithm" },
        { "SRK truncated", TpmTestKeys.Srk(Modulus)[..100], "The SRK: TPM2B_PUBLIC size field says 282 byte(s) but 98 follow" },
        { "SRK truncated inside the TPMT", WithSize(TpmTestKeys.Srk(Modulus)[..20], 18), "The SRK is truncated: keyBits needs 2 byte(s) at offset 20 but only 0 remain" },
    };

    private static byte[] Policy => Convert.FromHexString(TpmTestKeys.EkPolicyHex);

    [Theory]
    [MemberData(nameof(BadEndorsementKeys))]
    public void Issue_WhenTheEkIsNotTheTcgTemplate_IsRejectedWithTheField(string @case, byte[] ek, string expectedReason)
    {
        var ex = Assert.Throws<TpmAttestationRejectedException>(() => new TpmCredentialIssuer().Issue(ek, GoodSrk));

        Assert.True(ex.Message.Contains(expectedReason, StringComparison.Ordinal), $"{@case}: {ex.Message}");
    }

    [Theory]
    [MemberData(nameof(BadStorageRootKeys))]
    public void Issue_WhenTheSrkIsNotTheSrkTemplate_IsRejectedWithTheField(string @case, byte[] srk, string expectedReason)
    {
        var ex = Assert.Throws<TpmAttestationRejectedException>(() => new TpmCredentialIssuer().Issue(GoodEk, srk));

        Assert.True(ex.Message.Contains(expectedReason, StringComparison.Ordinal), $"{@case}: {ex.Message}");
    }

    [Fact]
    public void Issue_EveryTruncationOfAValidEk_IsRejectedNeverAnIndexError()
    {
        for (var length = 0; length < GoodEk.Length; length++)
        {
            var prefix = GoodEk[..length];
            Assert.Throws<TpmAttestationRejectedException>(() => new TpmCredentialIssuer().Issue(prefix, GoodSrk));
            if (length >= 2)
            {
                // The size field made consistent, so the parser walks into the cut structure itself.
                var consistent = WithSize(prefix, length - 2);
                Assert.Throws<TpmAttestationRejectedException>(() => new TpmCredentialIssuer().Issue(consistent, GoodSrk));
            }
        }
    }

    [Theory]
    [InlineData("exponent 0 (the template's)", 0u)]
    [InlineData("exponent 65537 spelled out", 65537u)]
    public void Issue_AcceptsBothSpellingsOfTheDefaultExponent(string @case, uint exponent)
    {
        var ek = TpmTestKeys.Public(0x000300B2, Policy, Modulus, exponent: exponent);

        var issued = new TpmCredentialIssuer().Issue(ek, GoodSrk);

        Assert.True(issued.AuthenticationKey.Length == 766, @case);
    }

    [Fact]
    public void ValidEk_StartsWithTheDpsProtocolPrefix()
    {
        // Guards the test builder itself against the documented wire prefix (dps-protocol.md §2.2).
        Assert.StartsWith("AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S", Convert.ToBase64String(GoodEk), StringComparison.Ordinal);
        Assert.StartsWith("ARoAAQALAAMEcgAA", Convert.ToBase64String(GoodSrk), StringComparison.Ordinal);
        Assert.Equal(EkHeaderHex, Convert.ToHexStringLower(GoodEk.AsSpan(0, EkHeaderHex.Length / 2)));
    }

    private static byte[] WithSize(byte[] bytes, int size)
    {
        var copy = (byte[])bytes.Clone();
        copy[0] = (byte)(size >> 8);
        copy[1] = (byte)size;
        return copy;
    }
}

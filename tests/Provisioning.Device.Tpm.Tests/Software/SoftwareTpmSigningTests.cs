using System.Security.Cryptography;

namespace Provisioning.Device.Tpm.Tests.Software;

/// <summary>Certificate keys (issue 16): ECC marshalling, and TPM2_Create / Load / Sign on the software TPM with the codes a
/// TPM gives.</summary>
public sealed class SoftwareTpmSigningTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void SigningTemplates_MarshalAsTheTpmDefines()
    {
        // TPMT_PUBLIC: type, nameAlg, TPMA_OBJECT 0x00040472, empty policy, NULL symmetric, NULL scheme, NIST P-256, NULL KDF, empty point.
        Assert.Equal("0023000B000404720000001000100003001000000000", Convert.ToHexString(TpmTemplates.EccP256SigningKey.ToBytes()));
        // RSA: NULL symmetric, NULL scheme, 2048 bits, exponent 0 (65537), empty modulus.
        Assert.Equal("0001000B000404720000001000100800000000000000", Convert.ToHexString(TpmTemplates.RsaSigningKey(2048).ToBytes()));
    }

    [Fact]
    public void EccPublicArea_WithSchemeKdfAndPoint_RoundTrips()
    {
        var bytes = Convert.FromHexString("0023000B00040472000000100018000B0003001000020102000203FF");
        var reader = new TpmReader(bytes);

        var parsed = TpmPublic.Read(ref reader);

        Assert.True(reader.IsAtEnd);
        Assert.Equal((TpmAlgorithm.Ecdsa, TpmAlgorithm.Sha256, (ushort)3), (parsed.Scheme, parsed.SchemeHash, parsed.CurveId));
        Assert.Equal([0x01, 0x02], parsed.EccX.ToArray());
        Assert.Equal([0x03, 0xFF], parsed.EccY.ToArray());
        Assert.Equal(bytes, parsed.ToBytes());
    }

    [Fact]
    public async Task CreateLoadSign_Ecdsa_VerifiesWithThePublicPoint_AndTheWrongDigestOrSchemeGetsTheTpmCodes()
    {
        await using var transport = new SoftwareTpmTransport();
        var tpm = new TpmCommands(transport);
        await tpm.StartupAsync(Ct);
        var (srk, _) = await tpm.CreatePrimaryAsync(TpmHandles.Owner, default, TpmTemplates.StorageRootKey, Ct);
        var (outPrivate, outPublic) = await tpm.CreateAsync(srk, default, TpmTemplates.EccP256SigningKey, Ct);
        var key = await tpm.LoadAsync(srk, default, outPrivate, outPublic.AsMemory(2), Ct);
        var pub = TpmPublic.FromTpm2B(outPublic);
        var digest = SHA256.HashData("issue 16"u8);

        var signature = await tpm.SignAsync(key, default, digest, TpmAlgorithm.Ecdsa, TpmAlgorithm.Sha256, Ct);

        using var verifier = ECDsa.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = new ECPoint { X = pub.EccX.ToArray(), Y = pub.EccY.ToArray() } });
        Assert.True(verifier.VerifyHash(digest, (byte[])[.. Pad(signature.R), .. Pad(signature.S)]));
        var wrongSize = await Assert.ThrowsAsync<TpmException>(async () => await tpm.SignAsync(key, default, new byte[20], TpmAlgorithm.Ecdsa, TpmAlgorithm.Sha256, Ct));
        Assert.Equal(0x1D5u, wrongSize.ResponseCode); // TPM_RC_SIZE, parameter 1
        var wrongScheme = await Assert.ThrowsAsync<TpmException>(async () => await tpm.SignAsync(key, default, digest, TpmAlgorithm.RsaSsa, TpmAlgorithm.Sha256, Ct));
        Assert.Equal(0x2D2u, wrongScheme.ResponseCode); // TPM_RC_SCHEME, parameter 2
    }

    [Fact]
    public async Task Create_ADecryptingOrRestrictedKey_IsRefusedWithTpmRcAttributes_AndATamperedPrivateWithIntegrity()
    {
        await using var transport = new SoftwareTpmTransport();
        var tpm = new TpmCommands(transport);
        await tpm.StartupAsync(Ct);
        var (srk, _) = await tpm.CreatePrimaryAsync(TpmHandles.Owner, default, TpmTemplates.StorageRootKey, Ct);
        var template = TpmTemplates.EccP256SigningKey;
        var decrypting = new TpmPublic
        {
            Type = template.Type,
            Attributes = template.Attributes | TpmObjectAttributes.Decrypt,
            Scheme = template.Scheme,
            CurveId = template.CurveId,
            SchemeKdf = template.SchemeKdf,
        };

        var refused = await Assert.ThrowsAsync<TpmException>(async () => await tpm.CreateAsync(srk, default, decrypting, Ct));
        Assert.Equal(0x2C2u, refused.ResponseCode); // TPM_RC_ATTRIBUTES, parameter 2

        var (outPrivate, outPublic) = await tpm.CreateAsync(srk, default, template, Ct);
        outPrivate[^1] ^= 1;
        var tampered = await Assert.ThrowsAsync<TpmException>(async () => await tpm.LoadAsync(srk, default, outPrivate, outPublic.AsMemory(2), Ct));
        Assert.Equal(0x1DFu, tampered.ResponseCode); // TPM_RC_INTEGRITY, parameter 1
    }

    private static byte[] Pad(byte[] value)
    {
        var padded = new byte[32];
        value.CopyTo(padded, 32 - value.Length);
        return padded;
    }
}

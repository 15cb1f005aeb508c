using System.Security.Cryptography;

namespace Provisioning.Device.Tpm.Tests.Software;

/// <summary>The TPM identity driven through the software TPM: the same command path as a real TPM, no swtpm needed.</summary>
public sealed class SoftwareTpmIdentityTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Activate_BlobFromTheCredentialIssuer_SignsWithThePlaintextKey_ShortAndLongData()
    {
        await using var identity = new TpmIdentity(new SoftwareTpmTransport());
        var issued = await Issue.ForAsync(identity, cancellationToken: Ct);
        await identity.ActivateIdentityKeyAsync(issued.AuthenticationKey, Ct);
        foreach (var length in new[] { 0, 64, 1024, 1025, 3000 })
        {
            var data = RandomNumberGenerator.GetBytes(length);
            Assert.Equal(HMACSHA256.HashData(issued.IdentityKey, data), await identity.SignAsync(data, Ct));
        }
    }

    [Fact]
    public async Task EndorsementAndStorageKeys_HaveTheTemplatesPublicAreas_AndTheRegistrationIdOfTheEk()
    {
        await using var identity = new TpmIdentity(new SoftwareTpmTransport());
        var ek = await identity.GetEndorsementKeyAsync(Ct);
        var srk = await identity.GetStorageRootKeyAsync(Ct);
        Assert.Equal(316, ek.Length);
        Assert.Equal(284, srk.Length);
        Assert.StartsWith("AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S", Convert.ToBase64String(ek), StringComparison.Ordinal);
        Assert.StartsWith("ARoAAQALAAMEcgAA", Convert.ToBase64String(srk), StringComparison.Ordinal);
        Assert.True(TpmPublic.FromTpm2B(ek).MatchesTemplate(TpmTemplates.EndorsementKey));
        Assert.True(TpmPublic.FromTpm2B(srk).MatchesTemplate(TpmTemplates.StorageRootKey));
        Assert.Equal(RegistrationId.FromEndorsementKey(ek), await identity.GetRegistrationIdAsync(Ct));
        Assert.NotEqual(TpmPublic.FromTpm2B(ek).Unique.ToArray(), TpmPublic.FromTpm2B(srk).Unique.ToArray());
    }

    [Fact]
    public async Task Activate_SecondBlob_ReplacesTheIdentityKey()
    {
        await using var identity = new TpmIdentity(new SoftwareTpmTransport());
        var first = await Issue.ForAsync(identity, cancellationToken: Ct);
        var second = await Issue.ForAsync(identity, cancellationToken: Ct);
        await identity.ActivateIdentityKeyAsync(first.AuthenticationKey, Ct);
        await identity.ActivateIdentityKeyAsync(second.AuthenticationKey, Ct);
        Assert.Equal(HMACSHA256.HashData(second.IdentityKey, "x"u8), await identity.SignAsync("x"u8.ToArray(), Ct));
    }

    [Fact]
    public async Task Activate_BlobForAnotherTpm_IsRefusedWithOaepValueError_AndTheKeyKeepsWorking()
    {
        await using var identity = new TpmIdentity(new SoftwareTpmTransport());
        await using var other = new TpmIdentity(new SoftwareTpmTransport());
        var good = await Issue.ForAsync(identity, cancellationToken: Ct);
        await identity.ActivateIdentityKeyAsync(good.AuthenticationKey, Ct);

        var otherEk = await Issue.ForAsync(other, identity, Ct);
        var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.ActivateIdentityKeyAsync(otherEk.AuthenticationKey, Ct));
        // Parameter 2 (secret): TPM_RC_VALUE when the seed does not OAEP-decode, or TPM_RC_SIZE when the other EK's ciphertext is,
        // as an integer, not below this EK's modulus (RSADP's range check, as in the TCG reference code); which one depends on
        // the two random moduli.
        Assert.True(error.ResponseCode is 0x2C4u or 0x2D5u, $"0x{error.ResponseCode:X}");

        var otherSrk = await Issue.ForAsync(identity, other, Ct);
        error = await Assert.ThrowsAsync<TpmException>(async () => await identity.ActivateIdentityKeyAsync(otherSrk.AuthenticationKey, Ct));
        Assert.Equal(0x1DFu, error.ResponseCode); // TPM_RC_INTEGRITY on parameter 1 (credentialBlob)

        Assert.Equal(HMACSHA256.HashData(good.IdentityKey, "abc"u8), await identity.SignAsync("abc"u8.ToArray(), Ct));
    }

    [Fact]
    public async Task EndorsementKeyCertificate_IsReadFromNv_WhenProvisioned_AndNullOtherwise()
    {
        await using var transport = new SoftwareTpmTransport();
        await using var identity = new TpmIdentity(transport, ownsTransport: false);
        Assert.Null(await identity.GetEndorsementKeyCertificateAsync(Ct));

        var certificate = RandomNumberGenerator.GetBytes(1300); // longer than one NV_Read chunk
        transport.Tpm.DefineNvIndex(TpmHandles.EndorsementKeyCertificate, certificate);
        Assert.Equal(certificate, await identity.GetEndorsementKeyCertificateAsync(Ct));
    }
}

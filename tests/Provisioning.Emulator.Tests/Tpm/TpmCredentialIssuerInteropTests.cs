using System.Security.Cryptography;
using System.Text;
using Provisioning.Emulator.Tpm;
using Provisioning.Testing;

namespace Provisioning.Emulator.Tests.Tpm;

/// <summary>
/// The issuer's blob, opened by swtpm driven by tpm2-tools alone: ActivateCredential with the EK policy, Import under
/// the SRK with the recovered inner key, Load, HMAC. No code of ours runs on the device side.
/// </summary>
[Trait("Category", "Interop")]
public sealed class TpmCredentialIssuerInteropTests(SwtpmFixture swtpm) : IClassFixture<SwtpmFixture>, IDisposable
{
    private static readonly byte[] Data = Encoding.UTF8.GetBytes("0ne00000000/registrations/device-1\n1767225600");
    private readonly string _dir = Directory.CreateTempSubdirectory("tpm-issuer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Issue_ForSwtpmKeys_ActivatesWithTpm2Tools_AndTheTpmHmacEqualsThePlaintextKeys()
    {
        var ct = TestContext.Current.CancellationToken;
        var device = await ProvisionAsync(ct);

        var issued = new TpmCredentialIssuer().Issue(device.EndorsementKey, device.StorageRootKey);
        var outcome = await device.ActivateAndSignAsync(issued.AuthenticationKey, Data, ct);

        Assert.True(outcome.Hmac is not null, $"{outcome.FailedTool} refused the blob: {outcome.Error}");
        Assert.Equal(HMACSHA256.HashData(issued.IdentityKey, Data), outcome.Hmac);
    }

    [Fact]
    public async Task Issue_TpmToolsOutput_IsTheDpsWireShape()
    {
        var device = await ProvisionAsync(TestContext.Current.CancellationToken);

        // tpm2-tools writes TPM2B_PUBLIC with its size prefix: exactly what DPS receives (dps-protocol.md §2.2).
        Assert.Equal(316, device.EndorsementKey.Length);
        Assert.Equal(284, device.StorageRootKey.Length);
        Assert.StartsWith("AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S", Convert.ToBase64String(device.EndorsementKey), StringComparison.Ordinal);
        Assert.StartsWith("ARoAAQALAAMEcgAA", Convert.ToBase64String(device.StorageRootKey), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Issue_ForAnotherEk_FailsToActivate()
    {
        var ct = TestContext.Current.CancellationToken;
        var device = await ProvisionAsync(ct);
        using var otherEk = RSA.Create(2048);

        var issued = new TpmCredentialIssuer().Issue(TpmTestKeys.Ek(TpmTestKeys.ModulusOf(otherEk)), device.StorageRootKey);
        var outcome = await device.ActivateAndSignAsync(issued.AuthenticationKey, Data, ct);

        Assert.Null(outcome.Hmac);
        Assert.Equal("tpm2_activatecredential", outcome.FailedTool);
    }

    [Fact]
    public async Task Issue_ForAnotherSrk_FailsToActivate()
    {
        var ct = TestContext.Current.CancellationToken;
        var device = await ProvisionAsync(ct);
        var otherSrk = await device.CreateOtherSrkAsync(ct);
        Assert.NotEqual(device.StorageRootKey, otherSrk);

        var issued = new TpmCredentialIssuer().Issue(device.EndorsementKey, otherSrk);
        var outcome = await device.ActivateAndSignAsync(issued.AuthenticationKey, Data, ct);

        // The credential is bound to Name(other SRK): ActivateCredential with the real SRK fails its integrity check.
        Assert.Null(outcome.Hmac);
        Assert.Equal("tpm2_activatecredential", outcome.FailedTool);
    }

    [Theory]
    [InlineData("credentialBlob (integrity HMAC)", 0, 10, "tpm2_activatecredential")]
    [InlineData("credentialBlob (encIdentity)", 0, 40, "tpm2_activatecredential")]
    [InlineData("secret", 1, 100, "tpm2_activatecredential")]
    [InlineData("duplicate (outer HMAC)", 2, 10, "tpm2_import")]
    [InlineData("duplicate (encrypted sensitive)", 2, 100, "tpm2_import")]
    [InlineData("inSymSeed", 3, 100, "tpm2_import")]
    [InlineData("objectPublic (unique)", 4, 30, "tpm2_import")]
    public async Task Issue_WithOneBitFlippedInAPart_FailsAtTheStepThatUsesIt(string part, int index, int offsetInPart, string failingTool)
    {
        _ = part;
        var ct = TestContext.Current.CancellationToken;
        var device = await ProvisionAsync(ct);
        var issued = new TpmCredentialIssuer().Issue(device.EndorsementKey, device.StorageRootKey);
        var start = TpmTestKeys.SplitBlob(issued.AuthenticationKey).Take(index).Sum(p => p.Length);

        var tampered = (byte[])issued.AuthenticationKey.Clone();
        tampered[start + offsetInPart] ^= 0x01;
        var outcome = await device.ActivateAndSignAsync(tampered, Data, ct);

        Assert.Null(outcome.Hmac);
        Assert.Equal(failingTool, outcome.FailedTool);
    }

    private async Task<TpmToolsDevice> ProvisionAsync(CancellationToken ct)
        => await TpmToolsDevice.ProvisionAsync(await swtpm.GetAsync(tools: true), _dir, ct);
}

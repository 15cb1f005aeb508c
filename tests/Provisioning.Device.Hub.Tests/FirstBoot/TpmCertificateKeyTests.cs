using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Provisioning.Device.Tpm;
using Provisioning.Emulator.Hubs;
using Provisioning.Testing;

namespace Provisioning.Device.Hub.Tests.FirstBoot;

/// <summary>A certificate key that never leaves the TPM (issue 16): created under the SRK, persisted at a configurable
/// handle, the CSR signed with TPM2_Sign, on swtpm and on the software TPM.</summary>
[Trait("Category", "Interop")]
public sealed class TpmCertificateKeyTests
{
    private const uint Handle = 0x8100_0123;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(CertificateKeyAlgorithm.EccP256)]
    [InlineData(CertificateKeyAlgorithm.Rsa2048)]
    public async Task Swtpm_CsrPublicKey_IsThePersistedKeyAsTpm2ReadpublicReportsIt(CertificateKeyAlgorithm algorithm)
    {
        Swtpm.RequireOrSkip(tools: true);
        await using var instance = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        byte[] csr;
        byte[] tpm2bPublic;
        await using (var tpm = TpmIdentity.Open(instance.TransportSpec))
        {
            using var key = await TpmCertificateKey.OpenAsync(tpm, algorithm, Handle, cancellationToken: Ct);
            csr = await key.CreateSigningRequestAsync("tpm-key-device", Ct);
            tpm2bPublic = key.TpmPublic.ToArray();
        }

        // Read independently, by tpm2-tools over its own connection (swtpm serves one at a time: ours is closed).
        var folder = Directory.CreateTempSubdirectory("tpmkey-");
        try
        {
            var pem = Path.Combine(folder.FullName, "key.pem");
            var raw = Path.Combine(folder.FullName, "key.pub");
            (await instance.ToolAsync("tpm2_readpublic", ["-c", $"0x{Handle:x8}", "-f", "pem", "-o", pem], cancellationToken: Ct)).EnsureSuccess("tpm2_readpublic pem");
            (await instance.ToolAsync("tpm2_readpublic", ["-c", $"0x{Handle:x8}", "-o", raw], cancellationToken: Ct)).EnsureSuccess("tpm2_readpublic");

            var request = CertificateRequest.LoadSigningRequest(csr, HashAlgorithmName.SHA256); // verifies the TPM's signature
            Assert.Equal("CN=tpm-key-device", request.SubjectName.Name);
            Assert.Equal(SubjectPublicKeyInfoFromPem(await File.ReadAllTextAsync(pem, Ct)), request.PublicKey.ExportSubjectPublicKeyInfo());
            Assert.Equal(await File.ReadAllBytesAsync(raw, Ct), tpm2bPublic);
            var pub = TpmPublic.FromTpm2B(tpm2bPublic);
            Assert.True(pub.Attributes.HasFlag(TpmObjectAttributes.FixedTpm) && pub.Attributes.HasFlag(TpmObjectAttributes.SensitiveDataOrigin));
        }
        finally
        {
            folder.Delete(recursive: true);
        }

        // A second open finds the persisted key and keeps it.
        await using (var tpm = TpmIdentity.Open(instance.TransportSpec))
        {
            using var again = await TpmCertificateKey.OpenAsync(tpm, algorithm, Handle, cancellationToken: Ct);
            Assert.Equal(tpm2bPublic, again.TpmPublic.ToArray());
        }
    }

    [Theory]
    [InlineData(CertificateKeyAlgorithm.EccP256)]
    [InlineData(CertificateKeyAlgorithm.Rsa2048)]
    [InlineData(CertificateKeyAlgorithm.Rsa3072)]
    public async Task SoftwareTpm_CsrIsSignedByThePersistedKey_WhichSurvivesAReopen_AndIsReplacedOnRequest(CertificateKeyAlgorithm algorithm)
    {
        var state = Directory.CreateTempSubdirectory("swtpm-state-");
        try
        {
            byte[] first;
            await using (var tpm = TpmIdentity.Open("software:" + state.FullName))
            {
                using var key = await TpmCertificateKey.OpenAsync(tpm, algorithm, Handle, cancellationToken: Ct);
                var request = CertificateRequest.LoadSigningRequest(await key.CreateSigningRequestAsync("sw-key", Ct), HashAlgorithmName.SHA256);
                Assert.Equal(key.SubjectPublicKeyInfo.ToArray(), request.PublicKey.ExportSubjectPublicKeyInfo());
                Assert.Equal(key.TpmPublic.ToArray(), await tpm.ReadCertificateKeyAsync(Handle, Ct));
                first = key.TpmPublic.ToArray();
            }

            await using (var tpm = TpmIdentity.Open("software:" + state.FullName))
            {
                using var same = await TpmCertificateKey.OpenAsync(tpm, algorithm, Handle, cancellationToken: Ct);
                Assert.Equal(first, same.TpmPublic.ToArray());
                CertificateRequest.LoadSigningRequest(await same.CreateSigningRequestAsync("sw-key", Ct), HashAlgorithmName.SHA256);

                using var replaced = await TpmCertificateKey.OpenAsync(tpm, algorithm, Handle, replace: true, cancellationToken: Ct);
                Assert.NotEqual(first, replaced.TpmPublic.ToArray());
                var request = CertificateRequest.LoadSigningRequest(await replaced.CreateSigningRequestAsync("sw-key", Ct), HashAlgorithmName.SHA256);
                Assert.Equal(replaced.SubjectPublicKeyInfo.ToArray(), request.PublicKey.ExportSubjectPublicKeyInfo());
            }
        }
        finally
        {
            state.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task SoftwareTpm_TpmAttestationWithTpmKey_GetsACertificateForTheTpmKey()
    {
        await using var bed = await FirstBootBed.StartAsync();
        await using var tpm = TpmIdentity.Open("software");
        var registrationId = await tpm.GetRegistrationIdAsync(Ct);
        await bed.Dps.Enrollments.AddTpmAsync(registrationId, await tpm.GetEndorsementKeyAsync(Ct), cancellationToken: Ct);
        using var attestation = new TpmAttestation(tpm);
        using var key = await TpmCertificateKey.OpenAsync(tpm, cancellationToken: Ct);
        var options = new ProvisioningClientOptions();
        options.TrustedRootCertificates.Add(bed.Dps.CertificateAuthority.Certificate);
        using var provisioning = new ProvisioningDeviceClient(bed.Dps.GlobalEndpoint.ToString(), bed.Dps.IdScope, attestation, options);

        var result = await provisioning.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = key }, Ct);

        Assert.Same(key, result.CertificateSigningKey);
        using var leaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(result.IssuedCertificateChain[0]));
        Assert.True(key.Matches(leaf));
        Assert.Equal(HubCredentialKind.CertificateAuthority, (await bed.HubDeviceAsync(result)).Kind);
        // The software TPM has no TCTI: TLS with its key is refused with a reason, not attempted.
        var refused = Assert.Throws<PlatformNotSupportedException>(() => HubAuthentication.FromIssuedCertificate(result));
        Assert.Contains("software TPM", refused.Message, StringComparison.Ordinal);
    }

    private static byte[] SubjectPublicKeyInfoFromPem(string pem)
    {
        var field = PemEncoding.Find(pem);
        return Convert.FromBase64String(pem[field.Base64Data]);
    }
}

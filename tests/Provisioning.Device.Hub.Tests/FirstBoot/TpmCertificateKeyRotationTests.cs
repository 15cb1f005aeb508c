using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Provisioning.Device.Tpm;
using Provisioning.Testing;

namespace Provisioning.Device.Hub.Tests.FirstBoot;

/// <summary>Renewal with a new TPM-resident key never evicts the key in use first (issue 16): the successor is created at the
/// other handle of the pair, a failed renewal evicts only the successor, a stored renewal switches the registration cache and
/// then evicts the old key, and a boot at any point finds a certificate with its key. On the software TPM and on swtpm (with
/// tpm2-tools reading the persistent handles independently).</summary>
/// <remarks>These drive the steps DeviceClient's renewal takes (CreateSuccessorAsync, RetireAsync, the cache switch) with a
/// certificate the emulator issues; the hub side over TLS needs the tpm2-openssl provider, which TpmKeyTlsTests covers.</remarks>
[Trait("Category", "Interop")]
public sealed class TpmCertificateKeyRotationTests
{
    private const uint Handle = 0x8100_0130;
    private const uint Alternate = 0x8100_0131;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SoftwareTpm_FailedRenewalKeepsTheOldKey_StoredRenewalMovesToTheAlternateHandle_AndEvictsTheOld()
    {
        var state = Directory.CreateTempSubdirectory("swtpm-rotate-");
        try
        {
            await RotateAsync("software:" + state.FullName, "rotate-tpm-soft", tools: null);
        }
        finally
        {
            state.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Swtpm_FailedRenewalKeepsTheOldKey_StoredRenewalMovesToTheAlternateHandle_AndEvictsTheOld()
    {
        Swtpm.RequireOrSkip(tools: true);
        await using var instance = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await RotateAsync(instance.TransportSpec, "rotate-tpm-swtpm", instance);
    }

    private static async Task RotateAsync(string transportSpec, string registrationId, SwtpmInstance? tools)
    {
        await using var bed = await FirstBootBed.StartAsync();
        var enrollment = await bed.Dps.Enrollments.AddSymmetricKeyAsync(registrationId, cancellationToken: Ct);
        using var attestation = new SymmetricKeyAttestation(registrationId, enrollment.PrimaryKey);
        var folder = Directory.CreateTempSubdirectory("rotate-cache-");
        try
        {
            var cachePath = Path.Combine(folder.FullName, "registration.json");
            IReadOnlyList<string> newChain;
            byte[] newPublic;
            await using (var tpm = TpmIdentity.Open(transportSpec))
            {
                using var key = await TpmCertificateKey.OpenAsync(tpm, handle: Handle, alternateHandle: Alternate, cancellationToken: Ct);
                Assert.Equal((Handle, Alternate), (key.Handle, key.AlternateHandle));
                using var provisioning = Provisioning(bed, attestation, cachePath);
                var first = await provisioning.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = key }, Ct);
                using var firstLeaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(first.IssuedCertificateChain[0]));

                // A renewal that fails (the hub refuses, or answers garbage): the successor is created at the alternate handle,
                // the key in use is untouched; DeviceClient then retires the successor.
                using (var failed = await key.CreateSuccessorAsync(Ct))
                {
                    Assert.Equal((Alternate, Handle), (failed.Handle, failed.AlternateHandle));
                    Assert.NotEqual(key.TpmPublic.ToArray(), failed.TpmPublic.ToArray());
                    Assert.Equal(key.TpmPublic.ToArray(), await tpm.ReadCertificateKeyAsync(Handle, Ct));
                    await failed.RetireAsync(Ct);
                }

                Assert.Null(await tpm.ReadCertificateKeyAsync(Alternate, Ct));
                Assert.Equal(key.TpmPublic.ToArray(), await tpm.ReadCertificateKeyAsync(Handle, Ct));
                await AssertSignsForAsync(key, firstLeaf); // the old key still signs for the old certificate
                using (var reboot = Provisioning(bed, attestation, cachePath))
                {
                    var cached = await reboot.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = key }, Ct);
                    Assert.True(cached.IsFromCache);
                    Assert.Equal(first.IssuedCertificateChain, cached.IssuedCertificateChain);
                    Assert.Same(key, cached.CertificateSigningKey);
                }

                // A renewal that succeeds: a certificate for the successor is stored (the cache switch), then the old key goes.
                var successor = await key.CreateSuccessorAsync(Ct);
                newPublic = successor.TpmPublic.ToArray();
                using (var issuer = Provisioning(bed, attestation, cachePath: null))
                {
                    newChain = (await issuer.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = successor }, Ct)).IssuedCertificateChain;
                }

                Assert.True(await provisioning.UpdateCachedCertificateAsync(newChain, successor, Ct));

                // A boot between the switch and the eviction (both keys persisted) takes the key the cached certificate names.
                using (var reboot = Provisioning(bed, attestation, cachePath))
                {
                    var cached = await reboot.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = key }, Ct);
                    Assert.True(cached.IsFromCache);
                    Assert.Equal(newChain, cached.IssuedCertificateChain);
                    var moved = Assert.IsType<TpmCertificateKey>(cached.CertificateSigningKey);
                    Assert.Equal(Alternate, moved.Handle);
                    Assert.Equal(newPublic, moved.TpmPublic.ToArray());
                    moved.Dispose();
                }

                await key.RetireAsync(Ct);
                Assert.Null(await tpm.ReadCertificateKeyAsync(Handle, Ct));
                Assert.Equal(newPublic, await tpm.ReadCertificateKeyAsync(Alternate, Ct));
                using var newLeaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(newChain[0]));
                await AssertSignsForAsync(successor, newLeaf);
                successor.Dispose();
            }

            if (tools is not null)
            {
                // Read independently (swtpm serves one connection at a time: ours is closed).
                var handles = await tools.ToolAsync("tpm2_getcap", ["handles-persistent"], cancellationToken: Ct);
                handles.EnsureSuccess("tpm2_getcap handles-persistent");
                Assert.Contains($"0x{Alternate:X8}", handles.StandardOutput, StringComparison.OrdinalIgnoreCase);
                Assert.DoesNotContain($"0x{Handle:X8}", handles.StandardOutput, StringComparison.OrdinalIgnoreCase);
            }

            // The next boot opens the configured pair, finds the key moved to the alternate handle and the cached certificate.
            await using (var tpm = TpmIdentity.Open(transportSpec))
            {
                using var reopened = await TpmCertificateKey.OpenAsync(tpm, handle: Handle, alternateHandle: Alternate, cancellationToken: Ct);
                Assert.Equal((Alternate, Handle), (reopened.Handle, reopened.AlternateHandle));
                Assert.Equal(newPublic, reopened.TpmPublic.ToArray());
                using var provisioning = Provisioning(bed, attestation, cachePath);
                var booted = await provisioning.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = reopened }, Ct);
                Assert.True(booted.IsFromCache);
                Assert.Equal(newChain, booted.IssuedCertificateChain);
                Assert.Same(reopened, booted.CertificateSigningKey);

                // The renewal after that goes back to the first handle, and evicts nothing it should not.
                using var third = await reopened.CreateSuccessorAsync(Ct);
                Assert.Equal(Handle, third.Handle);
                Assert.Equal(newPublic, await tpm.ReadCertificateKeyAsync(Alternate, Ct));
            }
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>The key signs a CSR whose public key is the certificate's.</summary>
    private static async Task AssertSignsForAsync(TpmCertificateKey key, X509Certificate2 leaf)
    {
        var request = CertificateRequest.LoadSigningRequest(await key.CreateSigningRequestAsync("check", Ct), HashAlgorithmName.SHA256); // verifies the signature
        Assert.Equal(leaf.PublicKey.ExportSubjectPublicKeyInfo(), request.PublicKey.ExportSubjectPublicKeyInfo());
    }

    private static ProvisioningDeviceClient Provisioning(FirstBootBed bed, ProvisioningAttestation attestation, string? cachePath)
    {
        var options = new ProvisioningClientOptions { RegistrationCache = cachePath is null ? null : new FileRegistrationCache(cachePath) };
        options.TrustedRootCertificates.Add(bed.Dps.CertificateAuthority.Certificate);
        return new ProvisioningDeviceClient(bed.Dps.GlobalEndpoint.ToString(), bed.Dps.IdScope, attestation, options);
    }
}

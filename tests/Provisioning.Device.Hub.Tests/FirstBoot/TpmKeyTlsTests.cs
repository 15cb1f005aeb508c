using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Provisioning.Device.Tpm;
using Provisioning.Emulator.Hubs;
using Provisioning.Testing;

namespace Provisioning.Device.Hub.Tests.FirstBoot;

/// <summary>TLS to the hub with a key that never leaves the TPM (issue 16): swtpm, OpenSSL's tpm2-openssl provider opened
/// with SafeEvpPKeyHandle.OpenKeyFromProvider, the key named by its persistent handle.</summary>
/// <remarks>The provider's TCTI is a process-wide variable, so the tests that open it take turns (TpmProviderTurns). Whether a handshake with
/// the key works is shown here only: a signature alone (also checked) went through before the bridge, the handshake did not.</remarks>
[Trait("Category", "Interop")]
[Collection(TpmProviderTurns.Name)]
public sealed class TpmKeyTlsTests
{
    private const string ProviderModule = "/usr/lib/x86_64-linux-gnu/ossl-modules/tpm2.so";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task FirstBoot_TpmAttestationAndTpmKey_OnSwtpm_HubAcceptsTheTlsClientCertificateSignedInTheTpm_AndTelemetryArrives()
    {
        Swtpm.RequireOrSkip(tools: true);
        if (!OperatingSystem.IsLinux() || !File.Exists(ProviderModule))
        {
            var reason = "OpenSSL's tpm2 provider is not installed (apt-get install tpm2-openssl); this test needs it for TLS with a TPM key.";
            if (Swtpm.IsRequired)
            {
                Assert.Fail(reason);
            }

            Assert.Skip(reason);
        }

        await using var instance = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var bed = await FirstBootBed.StartAsync();
        DeviceRegistrationResult result;
        TpmCertificateKey key;
        await using (var tpm = TpmIdentity.Open(instance.TransportSpec))
        {
            var registrationId = await tpm.GetRegistrationIdAsync(Ct);
            await bed.Dps.Enrollments.AddTpmAsync(registrationId, await tpm.GetEndorsementKeyAsync(Ct), cancellationToken: Ct);
            using var attestation = new TpmAttestation(tpm);
            key = await TpmCertificateKey.OpenAsync(tpm, transportSpec: instance.TransportSpec, cancellationToken: Ct);
            var options = new ProvisioningClientOptions();
            options.TrustedRootCertificates.Add(bed.Dps.CertificateAuthority.Certificate);
            using var provisioning = new ProvisioningDeviceClient(bed.Dps.GlobalEndpoint.ToString(), bed.Dps.IdScope, attestation, options);
            result = await provisioning.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = key }, Ct);
        }

        // Our stack flushed every transient object and session it loaded (swtpm has three object slots and no resource manager).
        await AssertNothingLoadedAsync(instance, "after registration and the key's creation");

        // swtpm serves one connection at a time: ours is closed, the provider opens its own.
        using (key)
        {
            Assert.Equal($"swtpm:host=127.0.0.1,port={instance.Port}", key.ProviderTcti);
            using var authentication = HubAuthentication.FromIssuedCertificate(result); // CopyWithPrivateKey checks the provider key is the leaf's

            // The provider signs inside the TPM; the signature verifies with the certificate's public key.
            var digest = SHA256.HashData("signed in the TPM"u8);
            using (var privateKey = authentication.ClientCertificate!.TargetCertificate.GetECDsaPrivateKey()!)
            using (var leafKey = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(result.IssuedCertificateChain[0])).GetECDsaPublicKey()!)
            {
                var signature = privateKey.SignHash(digest);
                Assert.True(leafKey.VerifyHash(digest, signature));
            }

            // The full TLS 1.3 handshake: the CertificateVerify signature is made in the TPM through the provider (the bridge key
            // hands libssl's one signature to it); hashing and record encryption stay in OpenSSL's default provider.
            await using var client = new DeviceClient(result.AssignedHub!, result.DeviceId!, authentication, bed.HubOptions());
            Exception? lastFailure = null;
            client.ConnectionStateChanged += (_, e) => lastFailure = e.Exception ?? lastFailure;
            using var guard = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            guard.CancelAfter(TimeSpan.FromSeconds(60)); // a hang guard: a handshake that keeps failing is retried, not thrown
            try
            {
                await client.OpenAsync(guard.Token);
            }
            catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
            {
                Assert.Fail($"The TLS handshake with the TPM key did not complete; last failure: {lastFailure}");
            }

            await bed.SendAndReceiveAsync(client);
        }

        // Nor does the provider keep anything loaded after the handshake's signature and the signature above.
        await AssertNothingLoadedAsync(instance, "after the TLS handshake through the provider");

        var device = await bed.HubDeviceAsync(result);
        Assert.Equal(HubCredentialKind.CertificateAuthority, device.Kind);
        using var leaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(result.IssuedCertificateChain[0]));
        Assert.Equal(leaf.GetCertHashString(HashAlgorithmName.SHA256), device.Thumbprint);
    }

    private static async Task AssertNothingLoadedAsync(SwtpmInstance instance, string when)
    {
        foreach (var kind in new[] { "handles-transient", "handles-loaded-session" })
        {
            var listed = (await instance.ToolAsync("tpm2_getcap", [kind], cancellationToken: Ct)).EnsureSuccess("tpm2_getcap " + kind);
            Assert.True(string.IsNullOrWhiteSpace(listed.StandardOutput), $"{kind} {when}: {listed.StandardOutput}");
        }
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Device.Hub.Tests.FirstBoot;

/// <summary>Certificate issuance at first boot (issue 16, dps-protocol.md §9): the registration carries a CSR, DPS issues a
/// chain, and the device authenticates to its hub over MQTT/TLS with the issued certificate and its own key.</summary>
public sealed class IssuedCertificateFirstBootTests : IAsyncLifetime
{
    private FirstBootBed? _bed;

    private FirstBootBed Bed => _bed!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _bed = await FirstBootBed.StartAsync();

    public async ValueTask DisposeAsync()
    {
        if (_bed is not null)
        {
            await _bed.DisposeAsync();
        }
    }

    [Theory]
    [InlineData(ProvisioningTransport.Https)]
    [InlineData(ProvisioningTransport.Mqtt)]
    [InlineData(ProvisioningTransport.MqttWebSockets)]
    public async Task Register_WithSoftwareKeyOverEveryTransport_IssuesAChainForTheKey_AndTheHubAcceptsItsTlsClientCertificate(ProvisioningTransport transport)
    {
        var registrationId = "csr-fb-" + transport.ToString().ToLowerInvariant();
        var keys = await Bed.Dps.Enrollments.AddSymmetricKeyAsync(registrationId, cancellationToken: Ct);
        using var attestation = new SymmetricKeyAttestation(registrationId, keys.PrimaryKey);
        using var key = SoftwareCertificateKey.Create();

        var result = await RegisterAsync(attestation, key, transport);

        AssertIssuedFor(result, key, registrationId);
        await ConnectAndSendAsync(result, attestation);
    }

    [Theory]
    [InlineData(CertificateKeyAlgorithm.Rsa2048)]
    [InlineData(CertificateKeyAlgorithm.Rsa3072)]
    public async Task Register_WithRsaKey_IssuesAChainForTheKey_AndConnects(CertificateKeyAlgorithm algorithm)
    {
        var registrationId = "csr-fb-" + algorithm.ToString().ToLowerInvariant();
        var keys = await Bed.Dps.Enrollments.AddSymmetricKeyAsync(registrationId, cancellationToken: Ct);
        using var attestation = new SymmetricKeyAttestation(registrationId, keys.PrimaryKey);
        using var key = SoftwareCertificateKey.Create(algorithm);

        var result = await RegisterAsync(attestation, key, ProvisioningTransport.Https);

        AssertIssuedFor(result, key, registrationId);
        using var leaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(result.IssuedCertificateChain[0]));
        using var rsa = leaf.GetRSAPublicKey();
        Assert.Equal(algorithm == CertificateKeyAlgorithm.Rsa2048 ? 2048 : 3072, rsa!.KeySize);
        await ConnectAndSendAsync(result, attestation);
    }

    [Fact]
    public async Task SecondBoot_WithStoredKeyAndCache_ConnectsWithTheCachedCertificate_WithoutAskingDps()
    {
        var folder = Directory.CreateTempSubdirectory("csr-fb-");
        try
        {
            var keys = await Bed.Dps.Enrollments.AddSymmetricKeyAsync("csr-fb-cache", cancellationToken: Ct);
            using var attestation = new SymmetricKeyAttestation("csr-fb-cache", keys.PrimaryKey);
            var keyPath = Path.Combine(folder.FullName, "state", "certificate-key.p8");
            var cachePath = Path.Combine(folder.FullName, "state", "registration.json");

            string firstThumbprint;
            using (var key = await SoftwareCertificateKey.LoadOrCreateAsync(keyPath, cancellationToken: Ct))
            {
                var first = await RegisterAsync(attestation, key, ProvisioningTransport.Https, new FileRegistrationCache(cachePath));
                Assert.False(first.IsFromCache);
                firstThumbprint = Thumbprint(first);
            }

            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyPath));
            }

            await Bed.Dps.Enrollments.RemoveAsync("csr-fb-cache", Ct); // DPS would now refuse the device: the cache must answer
            using var reloaded = await SoftwareCertificateKey.LoadOrCreateAsync(keyPath, cancellationToken: Ct);
            var second = await RegisterAsync(attestation, reloaded, ProvisioningTransport.Https, new FileRegistrationCache(cachePath));

            Assert.True(second.IsFromCache);
            Assert.Equal(firstThumbprint, Thumbprint(second));
            Assert.Same(reloaded, second.CertificateSigningKey);
            await ConnectAndSendAsync(second, attestation);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Hub_RefusesACertificateForTheSameKeyThatDpsDidNotIssue()
    {
        var keys = await Bed.Dps.Enrollments.AddSymmetricKeyAsync("csr-fb-forged", cancellationToken: Ct);
        using var attestation = new SymmetricKeyAttestation("csr-fb-forged", keys.PrimaryKey);
        using var key = SoftwareCertificateKey.Create();
        var result = await RegisterAsync(attestation, key, ProvisioningTransport.Https);

        // Same subject, same key, signed by another CA: the hub knows the device by the certificate DPS issued.
        using var forger = DeviceCertificates.Authority("Forger CA");
        var request = CertificateRequest.LoadSigningRequest(await key.CreateSigningRequestAsync("csr-fb-forged", Ct), HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var forged = request.Create(forger, DateTimeOffset.UtcNow.AddHours(-1), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(8));
        using var authentication = HubAuthentication.FromIssuedCertificate(
            [Convert.ToBase64String(forged.RawData), Convert.ToBase64String(forger.RawData)], key);
        await using var client = new DeviceClient(result.AssignedHub!, result.DeviceId!, authentication, Bed.HubOptions());

        await Assert.ThrowsAnyAsync<HubException>(() => client.OpenAsync(Ct));
    }

    private async Task<DeviceRegistrationResult> RegisterAsync(
        ProvisioningAttestation attestation, CertificateSigningKey key, ProvisioningTransport transport, IRegistrationCache? cache = null)
    {
        var options = new ProvisioningClientOptions { Transport = transport, RegistrationCache = cache };
        options.TrustedRootCertificates.Add(Bed.Dps.CertificateAuthority.Certificate);
        options.IssuedCertificateTrustedRoots.Add(Bed.Dps.CertificateAuthority.Certificate);
        string endpoint = transport switch
        {
            ProvisioningTransport.Mqtt => "mqtts://" + Bed.Dps.MqttEndpoint,
            ProvisioningTransport.MqttWebSockets => "wss://" + Bed.Dps.WebSocketEndpoint!.Authority,
            _ => Bed.Dps.GlobalEndpoint.ToString(),
        };
        using var provisioning = new ProvisioningDeviceClient(endpoint, Bed.Dps.IdScope, attestation, options);
        var result = await provisioning.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = key }, Ct);
        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        return result;
    }

    private void AssertIssuedFor(DeviceRegistrationResult result, CertificateSigningKey key, string registrationId)
    {
        Assert.Same(key, result.CertificateSigningKey);
        Assert.Equal(2, result.IssuedCertificateChain.Count);
        using var leaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(result.IssuedCertificateChain[0]));
        Assert.Equal("CN=" + registrationId, leaf.Subject);
        Assert.True(key.Matches(leaf));
        Assert.Equal(Bed.Dps.CertificateAuthority.Certificate.RawData, Convert.FromBase64String(result.IssuedCertificateChain[1]));
    }

    private async Task ConnectAndSendAsync(DeviceRegistrationResult result, ProvisioningAttestation attestation)
    {
        await using var client = DeviceClient.Create(result, attestation, Bed.HubOptions());
        await client.OpenAsync(Ct);
        await Bed.SendAndReceiveAsync(client);
        var device = await Bed.HubDeviceAsync(result);
        Assert.Equal(HubCredentialKind.CertificateAuthority, device.Kind);
        Assert.Equal(Thumbprint(result), device.Thumbprint);
    }

    private static string Thumbprint(DeviceRegistrationResult result)
    {
        using var leaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(result.IssuedCertificateChain[0]));
        return leaf.GetCertHashString(HashAlgorithmName.SHA256);
    }
}

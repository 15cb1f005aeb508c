using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Provisioning.Device.Hub.Tests.FirstBoot;

/// <summary>Renewal of an issued certificate from the hub (issue 16, dps-protocol.md §9): the emulated hub serves
/// <c>$iothub/credentials</c>, the certificate lifetime is seconds, and messages sent across the swap all arrive.</summary>
public sealed class CertificateRenewalTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    public async Task IssuedCertificate_IsRenewedByTheHubBeforeItExpires_AndNoAcknowledgedMessageIsLost(bool newKey, bool firstRequestThrottled)
    {
        await using var bed = await FirstBootBed.StartAsync(configure: o => o.IssuedCertificateValidity = TimeSpan.FromSeconds(20));
        var registrationId = $"renew-{newKey}-{firstRequestThrottled}".ToLowerInvariant();
        var keys = await bed.Dps.Enrollments.AddSymmetricKeyAsync(registrationId, cancellationToken: Ct);
        using var attestation = new SymmetricKeyAttestation(registrationId, keys.PrimaryKey);
        using var key = SoftwareCertificateKey.Create();
        var result = await RegisterAsync(bed, attestation, key);
        var hub = bed.Dps.GetHub(result.AssignedHub!);
        if (firstRequestThrottled)
        {
            hub.FailCertificateRequests(result.DeviceId!, 429, retryAfterSeconds: 1);
        }

        var renewed = new TaskCompletionSource<(IReadOnlyList<string> Chain, CertificateSigningKey Key)>(TaskCreationOptions.RunContinuationsAsynchronously);
        var reconnectedAfterRenewal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = bed.HubOptions(o =>
        {
            o.CertificateRenewalThreshold = 0.75; // lifetime 22 s (2 s backdated): renewal about 4 s after issuance
            o.RenewCertificateWithNewKey = newKey;
            o.CertificateRenewed = (chain, k, _) =>
            {
                renewed.TrySetResult((chain, k));
                return ValueTask.CompletedTask;
            };
        });
        await using var client = DeviceClient.Create(result, attestation, options);
        var sawRenewal = false;
        client.ConnectionStateChanged += (_, e) =>
        {
            sawRenewal |= e.Reason == ConnectionChangeReason.TokenRenewal;
            if (sawRenewal && e.State == ConnectionState.Connected)
            {
                reconnectedAfterRenewal.TrySetResult();
            }
        };
        await client.OpenAsync(Ct);

        using var guard = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        guard.CancelAfter(TimeSpan.FromSeconds(60)); // a hang guard, not a timed assertion
        var sent = new List<string>();
        var extra = 0;
        while (extra < 5)
        {
            var id = Guid.NewGuid().ToString("N");
            await client.SendEventAsync(new HubMessage(Encoding.UTF8.GetBytes($"{{\"n\":{sent.Count}}}")) { MessageId = id }, guard.Token); // acknowledged
            sent.Add(id);
            if (reconnectedAfterRenewal.Task.IsCompleted)
            {
                extra++;
            }
            else
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100), guard.Token);
            }
        }

        var (newChain, newChainKey) = await renewed.Task.WaitAsync(guard.Token);
        var received = new HashSet<string>(StringComparer.Ordinal);
        while (!sent.All(received.Contains))
        {
            received.Add((await hub.ReadTelemetryAsync(result.DeviceId!, guard.Token)).MessageId!);
        }

        using var oldLeaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(result.IssuedCertificateChain[0]));
        using var newLeaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(newChain[0]));
        Assert.NotEqual(oldLeaf.Thumbprint, newLeaf.Thumbprint);
        Assert.Equal(oldLeaf.Subject, newLeaf.Subject);
        Assert.True(newChainKey.Matches(newLeaf));
        Assert.Equal(!newKey, key.Matches(newLeaf));
        Assert.Equal(newLeaf.GetCertHashString(HashAlgorithmName.SHA256), (await bed.HubDeviceAsync(result)).Thumbprint); // the hub knows the new one
        Assert.True(hub.CertificatesIssued >= 1);
        Assert.Equal(ConnectionState.Connected, client.State);
        if (newKey)
        {
            newChainKey.Dispose();
        }
    }

    [Fact]
    public async Task Hub_RefusesAnExpiredIssuedCertificate()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var bed = await FirstBootBed.StartAsync(configure: o =>
        {
            o.IssuedCertificateValidity = TimeSpan.FromMinutes(10);
            o.TimeProvider = clock;
        });
        var keys = await bed.Dps.Enrollments.AddSymmetricKeyAsync("renew-expired", cancellationToken: Ct);
        using var attestation = new SymmetricKeyAttestation("renew-expired", keys.PrimaryKey);
        using var key = SoftwareCertificateKey.Create();
        var result = await RegisterAsync(bed, attestation, key);

        clock.Advance(TimeSpan.FromMinutes(20)); // the hub's clock: the certificate expired (the skew is 1 minute)
        using var authentication = HubAuthentication.FromIssuedCertificate(result);
        await using var client = new DeviceClient(result.AssignedHub!, result.DeviceId!, authentication, bed.HubOptions());

        var refused = await Assert.ThrowsAsync<HubException>(() => client.OpenAsync(Ct));
        Assert.Equal(5, refused.Status); // CONNACK 5: not authorized
    }

    private static async Task<DeviceRegistrationResult> RegisterAsync(FirstBootBed bed, ProvisioningAttestation attestation, CertificateSigningKey key)
    {
        var options = new ProvisioningClientOptions();
        options.TrustedRootCertificates.Add(bed.Dps.CertificateAuthority.Certificate);
        using var provisioning = new ProvisioningDeviceClient(bed.Dps.GlobalEndpoint.ToString(), bed.Dps.IdScope, attestation, options);
        var result = await provisioning.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = key }, Ct);
        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        return result;
    }
}

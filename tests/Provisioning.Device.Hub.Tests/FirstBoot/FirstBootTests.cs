using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Provisioning.Device.Tpm;
using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Device.Hub.Tests.FirstBoot;

/// <summary>First boot to first telemetry over real sockets: DPS emulator (HTTPS) → <see cref="ProvisioningDeviceClient"/> →
/// <see cref="DeviceClient.Create"/> → the emulated hub (MQTT over TLS), for every attestation (issue 6).</summary>
public sealed class FirstBootTests : IAsyncLifetime
{
    private FirstBootBed? _bed;

    private FirstBootBed Bed => _bed!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() => _bed = await FirstBootBed.StartAsync(hubs: 2);

    public async ValueTask DisposeAsync()
    {
        if (_bed is not null)
        {
            await _bed.DisposeAsync();
        }
    }

    [Fact]
    public async Task FirstBoot_SoftwareTpm_HubKnowsTheIdentityKeyActivatedOnAssignment_AndTheInitialTwin()
    {
        await using var tpm = TpmIdentity.Open("software");
        var registrationId = await tpm.GetRegistrationIdAsync(Ct);
        await Bed.Dps.Enrollments.AddTpmAsync(registrationId, await tpm.GetEndorsementKeyAsync(Ct),
            new EnrollmentSettings { InitialTwinJson = """{"properties":{"desired":{"interval":30}}}""" }, Ct);
        using var attestation = new TpmAttestation(tpm);

        var (result, received) = await Bed.FirstBootAsync(attestation);

        Assert.Equal(registrationId, result.RegistrationId);
        Assert.Equal(result.DeviceId, received.DeviceId);
        var device = await Bed.HubDeviceAsync(result);
        Assert.Equal(HubCredentialKind.Tpm, device.Kind);
        // The TPM signs with the key activated from registrationState.tpm.authenticationKey: the hub's stored key verifies it.
        await FirstBootBed.AssertSignsWithAsync(attestation, result, device.PrimaryKey!);
        var twin = await Bed.Dps.GetHub(result.AssignedHub!).GetTwinAsync(result.DeviceId!, Ct);
        Assert.Equal(30, JsonDocument.Parse(twin.DesiredJson).RootElement.GetProperty("interval").GetInt32());
    }

    [Fact]
    public async Task FirstBoot_SymmetricKeyIndividual_HubHoldsTheEnrollmentKey()
    {
        var keys = await Bed.Dps.Enrollments.AddSymmetricKeyAsync("sym-first-01", cancellationToken: Ct);
        using var attestation = new SymmetricKeyAttestation("sym-first-01", keys.PrimaryKey);

        var (result, _) = await Bed.FirstBootAsync(attestation);

        var device = await Bed.HubDeviceAsync(result);
        Assert.Equal(HubCredentialKind.SymmetricKey, device.Kind);
        Assert.Equal(Convert.FromBase64String(keys.PrimaryKey), device.PrimaryKey);
    }

    [Fact]
    public async Task FirstBoot_SymmetricKeyGroup_HubHoldsTheDerivedDeviceKey()
    {
        var group = await Bed.Dps.Enrollments.AddSymmetricKeyGroupAsync("sym-first-group", cancellationToken: Ct);
        using var attestation = SymmetricKeyAttestation.FromEnrollmentGroup("sym-first-g-07", group.PrimaryKey);

        var (result, _) = await Bed.FirstBootAsync(attestation);

        Assert.Equal("sym-first-group", result.EnrollmentGroupId);
        var device = await Bed.HubDeviceAsync(result);
        Assert.Equal(Convert.FromBase64String(group.DeriveDeviceKey("sym-first-g-07")), device.PrimaryKey);
    }

    [Fact]
    public async Task FirstBoot_OverWebSockets_ReachesTheHubThroughItsWebSocketEndpoint()
    {
        await using var bed = await FirstBootBed.StartAsync(webSockets: true);
        var keys = await bed.Dps.Enrollments.AddSymmetricKeyAsync("sym-first-ws", cancellationToken: Ct);
        using var attestation = new SymmetricKeyAttestation("sym-first-ws", keys.PrimaryKey);

        var (result, received) = await bed.FirstBootAsync(attestation, o =>
        {
            o.Transport = HubTransport.MqttWebSocket;
            o.HubAddresses.Clear();
            foreach (var (hostName, address) in bed.Dps.HubWebSocketAddresses)
            {
                o.HubAddresses[hostName] = address;
            }
        });

        Assert.Equal(result.DeviceId, received.DeviceId);
        Assert.NotEqual(bed.Dps.HubAddresses[result.AssignedHub!], bed.Dps.HubWebSocketAddresses[result.AssignedHub!]);
    }

    [Fact]
    public async Task FirstBoot_DeviceIdThatNeedsEscaping_SignsTheEncodedResource()
    {
        var keys = await Bed.Dps.Enrollments.AddSymmetricKeyAsync("sym-first-escaped",
            new EnrollmentSettings { DeviceId = "room(1):temp@floor;x=$y" }, Ct);
        using var attestation = new SymmetricKeyAttestation("sym-first-escaped", keys.PrimaryKey);

        var (result, received) = await Bed.FirstBootAsync(attestation);

        Assert.Equal("room(1):temp@floor;x=$y", result.DeviceId);
        Assert.Equal("room(1):temp@floor;x=$y", received.DeviceId);
        await FirstBootBed.AssertSignsWithAsync(attestation, result, Convert.FromBase64String(keys.PrimaryKey));
    }

    [Fact]
    public async Task FirstBoot_X509Individual_HubMatchesTheCertificateThumbprint()
    {
        var (_, certificate, thumbprint) = TestPki.IssueDevice("x509-first-01");
        using var _cert = certificate;
        using var publicPart = X509CertificateLoader.LoadCertificate(certificate.RawData);
        await Bed.Dps.Enrollments.AddX509Async("x509-first-01", publicPart, cancellationToken: Ct);
        using var attestation = new X509Attestation(certificate);

        var (result, _) = await Bed.FirstBootAsync(attestation);

        var device = await Bed.HubDeviceAsync(result);
        Assert.Equal(HubCredentialKind.X509, device.Kind);
        Assert.Equal(thumbprint, device.Thumbprint);
        Assert.Null(device.PrimaryKey);
    }

    [Fact]
    public async Task FirstBoot_X509GroupSignedByAnIntermediate_DevicePresentsItsChain()
    {
        // The group is enrolled by its intermediate: the emulator validates against enrolled signers only (it does not read
        // the intermediates a device sends in TLS), so a root-enrolled group would need the intermediate enrolled too.
        using var root = DeviceCertificates.Authority("First Boot Root");
        using var intermediate = DeviceCertificates.Authority("First Boot Intermediate", root);
        using var leaf = DeviceCertificates.Leaf(intermediate, "x509-first-g-01");
        using var intermediatePublic = X509CertificateLoader.LoadCertificate(intermediate.RawData);
        await Bed.Dps.Enrollments.AddX509GroupAsync("x509-first-group", intermediatePublic, cancellationToken: Ct);
        using var attestation = new X509Attestation(leaf, [intermediatePublic]);

        var (result, _) = await Bed.FirstBootAsync(attestation);

        Assert.Equal("x509-first-group", result.EnrollmentGroupId);
        var device = await Bed.HubDeviceAsync(result);
        Assert.Equal(DeviceCertificates.Sha256Thumbprint(leaf), device.Thumbprint);
    }

    [Theory]
    [InlineData("symmetricKey")]
    [InlineData("tpm")]
    public async Task Refused_DeviceDisabledAfterRegistration_TriggersReprovisioning_AndReRegistrationConnectsAgain(string kind)
    {
        await using var tpm = TpmIdentity.Open("software");
        using var attestation = await EnrollAsync(kind, "refused-" + kind, tpm);
        var cachePath = Path.Combine(Path.GetTempPath(), "firstboot-" + Guid.NewGuid().ToString("N"), "registration.json");
        var provisioningOptions = new ProvisioningClientOptions { RegistrationCache = new FileRegistrationCache(cachePath) };
        provisioningOptions.TrustedRootCertificates.Add(Bed.Dps.CertificateAuthority.Certificate);
        using var provisioning = new ProvisioningDeviceClient(Bed.Dps.GlobalEndpoint.ToString(), Bed.Dps.IdScope, attestation, provisioningOptions);
        try
        {
            var result = await provisioning.RegisterAsync(Ct);
            Assert.False(result.IsFromCache);
            var refused = new TaskCompletionSource<HubRefusal>(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (var client = DeviceClient.Create(result, attestation, Bed.HubOptions(o => o.ReprovisionRequired = async (refusal, token) =>
            {
                // What a first-boot flow does here: forget the assignment so the next registration asks DPS.
                await provisioning.InvalidateCachedRegistrationAsync(token);
                refused.TrySetResult(refusal);
            })))
            {
                await client.OpenAsync(Ct);
                await Bed.SendAndReceiveAsync(client);

                await Bed.Dps.GetHub(result.AssignedHub!).SetDeviceEnabledAsync(result.DeviceId!, enabled: false, Ct);

                var refusal = await refused.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
                Assert.Equal(result.AssignedHub, refusal.HubHostName);
                Assert.Equal(result.DeviceId, refusal.DeviceId);
                Assert.Equal(ConnectionState.Refused, client.State);
            }

            var again = await provisioning.RegisterAsync(Ct);
            Assert.False(again.IsFromCache);
            Assert.Equal(ProvisioningRegistrationStatus.Assigned, again.Status);
            await using var second = DeviceClient.Create(again, attestation, Bed.HubOptions());
            await second.OpenAsync(Ct);
            await Bed.SendAndReceiveAsync(second);
        }
        finally
        {
            if (Directory.Exists(Path.GetDirectoryName(cachePath)))
            {
                Directory.Delete(Path.GetDirectoryName(cachePath)!, recursive: true);
            }
        }
    }

    private async Task<ProvisioningAttestation> EnrollAsync(string kind, string registrationId, TpmIdentity tpm)
    {
        if (kind == "tpm")
        {
            await Bed.Dps.Enrollments.AddTpmAsync(await tpm.GetRegistrationIdAsync(Ct), await tpm.GetEndorsementKeyAsync(Ct), cancellationToken: Ct);
            return new TpmAttestation(tpm);
        }

        var keys = await Bed.Dps.Enrollments.AddSymmetricKeyAsync(registrationId, cancellationToken: Ct);
        return new SymmetricKeyAttestation(registrationId, keys.PrimaryKey);
    }

    [Theory]
    [InlineData(ProvisioningRegistrationStatus.Disabled)]
    [InlineData(ProvisioningRegistrationStatus.Failed)]
    [InlineData(ProvisioningRegistrationStatus.Assigning)]
    public void Create_ResultNotAssigned_ThrowsArgumentExceptionSayingWhy(ProvisioningRegistrationStatus status)
    {
        using var attestation = new SymmetricKeyAttestation("not-assigned", Convert.ToBase64String(new byte[32]));
        var result = new DeviceRegistrationResult { RegistrationId = "not-assigned", Status = status, ErrorCode = 400209, ErrorMessage = "webhook failed" };

        var error = Assert.Throws<ArgumentException>(() => DeviceClient.Create(result, attestation));

        Assert.Equal("registration", error.ParamName);
        Assert.Contains(status.ToString(), error.Message, StringComparison.Ordinal);
        Assert.Contains("400209", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_ResultWithAnIssuedCertificate_ThrowsArgumentExceptionPointingToFromCertificate()
    {
        using var attestation = new SymmetricKeyAttestation("issued", Convert.ToBase64String(new byte[32]));
        var result = new DeviceRegistrationResult
        {
            RegistrationId = "issued", Status = ProvisioningRegistrationStatus.Assigned, AssignedHub = "hub1.localhost", DeviceId = "issued",
            IssuedCertificateChain = ["MIIB"],
        };

        var error = Assert.Throws<ArgumentException>("registration", () => DeviceClient.Create(result, attestation));

        Assert.Contains("FromCertificate", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_AssignedWithoutHub_ThrowsArgumentException()
    {
        using var attestation = new SymmetricKeyAttestation("no-hub", Convert.ToBase64String(new byte[32]));
        var result = new DeviceRegistrationResult { RegistrationId = "no-hub", Status = ProvisioningRegistrationStatus.Assigned, DeviceId = "no-hub" };

        Assert.Throws<ArgumentException>("registration", () => DeviceClient.Create(result, attestation));
    }
}

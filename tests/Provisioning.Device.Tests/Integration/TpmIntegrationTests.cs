using Provisioning.Device.Tpm;
using Provisioning.Testing;

namespace Provisioning.Device.Tests.Integration;

/// <summary>
/// TPM registration end to end (dps-protocol.md §1.4, §1.6, §2): the 401 challenge is activated in the TPM, the blob that
/// arrives with <c>assigned</c> is activated too, and the identity key it carries signs hub tokens the emulator's hub
/// registry verifies.
/// </summary>
public sealed class TpmIntegrationTests(SwtpmFixture swtpm) : IClassFixture<SwtpmFixture>
{
    [Fact]
    public async Task Register_WithSoftwareTpm_IsChallengedThenAssignedAndTheHubKeyIsActivated()
    {
        await using TpmIdentity identity = TpmIdentity.Open("software");
        await RegisterAndVerifyAsync(identity);
    }

    [Fact]
    [Trait("Category", "Interop")]
    public async Task Register_WithSwtpm_IsChallengedThenAssignedAndTheHubKeyIsActivated()
    {
        SwtpmInstance instance = await swtpm.GetAsync();
        await using TpmIdentity identity = TpmIdentity.Open(instance.TransportSpec);
        await RegisterAndVerifyAsync(identity);
    }

    [Fact]
    public async Task Register_WithSoftwareTpmAndExplicitRegistrationId_UsesThatId()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TpmIdentity identity = TpmIdentity.Open("software");
        await using var session = await EmulatorSession.StartAsync();
        await session.Dps.Enrollments.AddTpmAsync("tpm-named-device", await identity.GetEndorsementKeyAsync(ct), cancellationToken: ct);
        using var attestation = new TpmAttestation(identity, "tpm-named-device");
        using var client = session.CreateClient(attestation, out _);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("tpm-named-device", result.RegistrationId);
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
    }

    [Fact]
    public async Task Register_SoftwareTpmAgainWithBypassCache_IsChallengedAgainAndTheNewHubKeyReplacesTheOld()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TpmIdentity identity = TpmIdentity.Open("software");
        await using var session = await EmulatorSession.StartAsync();
        string registrationId = await identity.GetRegistrationIdAsync(ct);
        await session.Dps.Enrollments.AddTpmAsync(registrationId, await identity.GetEndorsementKeyAsync(ct), cancellationToken: ct);
        using var attestation = new TpmAttestation(identity);
        using var client = session.CreateClient(attestation, out RequestCounter counter);

        DeviceRegistrationResult first = await client.RegisterAsync(cancellationToken: ct);
        byte[] firstKey = (await session.Dps.HubRegistry.FindAsync(first.AssignedHub!, first.DeviceId!, ct))!.PrimaryKey!;
        DeviceRegistrationResult second = await client.RegisterAsync(new ProvisioningRegistrationRequest { BypassCache = true }, ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, second.Status);
        Assert.Equal(4, counter.Puts);
        byte[] secondKey = (await session.Dps.HubRegistry.FindAsync(second.AssignedHub!, second.DeviceId!, ct))!.PrimaryKey!;
        Assert.NotEqual(firstKey, secondKey);
        await HubSas.AssertSignsForHubAsync(session, attestation, second);
    }

    private static async Task RegisterAndVerifyAsync(TpmIdentity identity)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        string registrationId = await identity.GetRegistrationIdAsync(ct);
        await session.Dps.Enrollments.AddTpmAsync(registrationId, await identity.GetEndorsementKeyAsync(ct), cancellationToken: ct);
        using var attestation = new TpmAttestation(identity);
        using var client = session.CreateClient(attestation, out RequestCounter counter);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(registrationId, result.RegistrationId);
        Assert.Equal(registrationId, result.DeviceId);
        // PUT → 401 challenge, PUT with the SAS → 202, GET → assigned.
        Assert.Equal(2, counter.Puts);
        Assert.Equal(1, counter.Gets);
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
    }
}

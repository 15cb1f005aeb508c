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

    /// <summary>
    /// The exact TPM command sequence of a registration, as a device boots with its EK and SRK already persisted and an
    /// identity key from an earlier registration: a regression (a command added back) fails here. 19 commands: no
    /// TPM2_Startup (the TPM is started; it would be sent on TPM_RC_INITIALIZE), the EK and SRK read once, then per
    /// activation (the 401 challenge's and the assigned one's) a policy session that ends with ActivateCredential (no
    /// FlushContext), Import, Load, the earlier key evicted without reading it first, the new one persisted, the loaded copy
    /// flushed; one HMAC signs the retry's SAS token. Before: 24 (Startup, and per activation a session flush and a ReadPublic
    /// of the identity handle).
    /// </summary>
    [Fact]
    public async Task Register_WithSoftwareTpm_SendsExactlyTheRegistrationsTpmCommands()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var software = new SoftwareTpmTransport();
        await using var session = await EmulatorSession.StartAsync();
        await using (var factory = new TpmIdentity(software, ownsTransport: false))
        {
            // Made at the factory: the keys persisted, the enrollment made; then a first registration leaves an identity key.
            await session.Dps.Enrollments.AddTpmAsync(await factory.GetRegistrationIdAsync(ct), await factory.GetEndorsementKeyAsync(ct), cancellationToken: ct);
            using var first = new TpmAttestation(factory);
            using var firstClient = session.CreateClient(first, out _);
            Assert.Equal(ProvisioningRegistrationStatus.Assigned, (await firstClient.RegisterAsync(cancellationToken: ct)).Status);
        }

        await using var recorder = new RecordingTpmTransport(software, ownsInner: false);
        await using var identity = new TpmIdentity(recorder, ownsTransport: false);
        using var attestation = new TpmAttestation(identity);
        using var client = session.CreateClient(attestation, out _);

        DeviceRegistrationResult result = await client.RegisterAsync(new ProvisioningRegistrationRequest { BypassCache = true }, ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        TpmCommandCode[] activation =
        [
            TpmCommandCode.StartAuthSession, TpmCommandCode.PolicySecret, TpmCommandCode.ActivateCredential, TpmCommandCode.Import,
            TpmCommandCode.Load, TpmCommandCode.EvictControl, TpmCommandCode.EvictControl, TpmCommandCode.FlushContext,
        ];
        TpmCommandCode[] expected = [TpmCommandCode.ReadPublic, TpmCommandCode.ReadPublic, .. activation, TpmCommandCode.Hmac, .. activation];
        Assert.Equal(expected, recorder.Exchanges.Select(e => e.CommandCode));
        Assert.All(recorder.Exchanges, e => Assert.Equal(TpmResponseCode.Success, e.ResponseCode));
        // Nothing left loaded: TPM2_GetCapability(TPM_CAP_HANDLES, transient) lists no handle (TPML_HANDLE count 0).
        byte[] loaded = await software.ExecuteAsync(Convert.FromHexString("8001" + "00000016" + "0000017A" + "00000001" + "80000000" + "00000040"), ct);
        Assert.Equal(0u, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(loaded.AsSpan(15)));
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
    }

    /// <summary>On a TPM with no identity key yet, the eviction before the first persist finds nothing (TPM_RC_HANDLE), which
    /// is expected: one command, as the read it replaces was.</summary>
    [Fact]
    public async Task Register_WithSoftwareTpmAndNoIdentityKeyYet_TheFirstEvictionFindsNothingAndTheRegistrationSucceeds()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var software = new SoftwareTpmTransport();
        await using var recorder = new RecordingTpmTransport(software, ownsInner: false);
        await using var identity = new TpmIdentity(recorder, ownsTransport: false);
        await using var session = await EmulatorSession.StartAsync();
        await session.Dps.Enrollments.AddTpmAsync(await identity.GetRegistrationIdAsync(ct), await identity.GetEndorsementKeyAsync(ct), cancellationToken: ct);
        using var attestation = new TpmAttestation(identity);
        using var client = session.CreateClient(attestation, out _);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        TpmExchange[] evictions = [.. recorder.Exchanges.Where(e => e.CommandCode == TpmCommandCode.EvictControl)];
        // EK and SRK persisted (first boot), then per activation: evict the earlier key, persist the new one.
        Assert.Equal(6, evictions.Length);
        Assert.Equal(TpmResponseCode.Handle, TpmResponseCode.BaseCode(evictions[2].ResponseCode));
        Assert.All(evictions.Where((_, i) => i != 2), e => Assert.Equal(TpmResponseCode.Success, e.ResponseCode));
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
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

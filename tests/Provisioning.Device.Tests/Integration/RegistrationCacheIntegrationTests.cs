using Provisioning.Device.Tpm;
using Provisioning.Emulator.Enrollments;

namespace Provisioning.Device.Tests.Integration;

/// <summary>The registration cache against the emulator: a reboot goes straight to the hub; invalidation asks DPS again.</summary>
public sealed class RegistrationCacheIntegrationTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("provisioning-cache-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Register_SecondTime_IsServedFromTheCache_AndAfterInvalidation_AsksTheServiceAgain()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("cached-device", cancellationToken: ct);
        ProvisioningClientOptions options = session.CreateOptions();
        options.RegistrationCache = new FileRegistrationCache(Path.Combine(_directory, "registration.json"));
        using var attestation = new SymmetricKeyAttestation("cached-device", keys.PrimaryKey);
        using var client = session.CreateClient(attestation, out RequestCounter counter, options);

        DeviceRegistrationResult first = await client.RegisterAsync(cancellationToken: ct);
        int afterFirst = counter.Total;
        DeviceRegistrationResult second = await client.RegisterAsync(cancellationToken: ct);
        int afterSecond = counter.Total;
        await client.InvalidateCachedRegistrationAsync(ct);
        DeviceRegistrationResult third = await client.RegisterAsync(cancellationToken: ct);

        Assert.False(first.IsFromCache);
        Assert.Equal(2, afterFirst);
        Assert.True(second.IsFromCache);
        Assert.Equal(afterFirst, afterSecond);
        Assert.Equal(first.AssignedHub, second.AssignedHub);
        Assert.Equal(first.DeviceId, second.DeviceId);
        Assert.False(third.IsFromCache);
        Assert.Equal(afterSecond + 2, counter.Total);
        Assert.Equal(ProvisioningRegistrationStatus.Assigned, third.Status);
    }

    /// <remarks>
    /// A reboot: a new process opens the same (persisted) software TPM and the same cache file; it gets its hub from the
    /// cache without a request, and the identity key DPS gave before the reboot still signs tokens the hub accepts.
    /// </remarks>
    [Fact]
    public async Task Register_AfterATpmDeviceReboots_ComesFromTheCacheAndThePersistedHubKeyStillSigns()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        // Absent: the software TPM creates it owner-only.
        string tpmState = Path.Combine(_directory, "tpm");
        string cachePath = Path.Combine(_directory, "registration.json");
        DeviceRegistrationResult first;
        await using (TpmIdentity identity = TpmIdentity.Open("software:" + tpmState))
        {
            await session.Dps.Enrollments.AddTpmAsync(await identity.GetRegistrationIdAsync(ct), await identity.GetEndorsementKeyAsync(ct), cancellationToken: ct);
            ProvisioningClientOptions options = session.CreateOptions();
            options.RegistrationCache = new FileRegistrationCache(cachePath);
            using var attestation = new TpmAttestation(identity);
            using var client = session.CreateClient(attestation, out _, options);
            first = await client.RegisterAsync(cancellationToken: ct);
        }

        await using TpmIdentity rebooted = TpmIdentity.Open("software:" + tpmState);
        ProvisioningClientOptions rebootOptions = session.CreateOptions();
        rebootOptions.RegistrationCache = new FileRegistrationCache(cachePath);
        using var rebootAttestation = new TpmAttestation(rebooted);
        using var rebootClient = session.CreateClient(rebootAttestation, out RequestCounter counter, rebootOptions);

        DeviceRegistrationResult cached = await rebootClient.RegisterAsync(cancellationToken: ct);

        Assert.True(cached.IsFromCache);
        Assert.Equal(0, counter.Total);
        Assert.Equal(first.AssignedHub, cached.AssignedHub);
        Assert.Equal(first.DeviceId, cached.DeviceId);
        await HubSas.AssertSignsForHubAsync(session, rebootAttestation, cached);
    }

    [Fact]
    public async Task Register_WithBypassCache_AsksTheServiceEvenWithAnEntry()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("bypass-device", cancellationToken: ct);
        ProvisioningClientOptions options = session.CreateOptions();
        options.RegistrationCache = new FileRegistrationCache(Path.Combine(_directory, "registration.json"));
        using var attestation = new SymmetricKeyAttestation("bypass-device", keys.PrimaryKey);
        using var client = session.CreateClient(attestation, out RequestCounter counter, options);

        await client.RegisterAsync(cancellationToken: ct);
        DeviceRegistrationResult again = await client.RegisterAsync(new ProvisioningRegistrationRequest { BypassCache = true }, ct);

        Assert.False(again.IsFromCache);
        Assert.Equal(4, counter.Total);
    }
}

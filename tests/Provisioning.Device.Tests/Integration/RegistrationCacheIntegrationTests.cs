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

using System.Net;
using System.Net.Sockets;

namespace Provisioning.Device.Hub.Tests.FirstBoot;

/// <summary>
/// The hand-off that owns the loop (issue 11): cache → hub; a refused, invalid or unreachable cached identity goes back to DPS,
/// in the library. Real DPS emulator over HTTPS, real hubs over MQTT/TLS, a real cache file.
/// </summary>
public sealed class DeviceConnectorTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "connector-" + Guid.NewGuid().ToString("N"));
    private FirstBootBed? _bed;

    private FirstBootBed Bed => _bed!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string CachePath => Path.Combine(_folder, "registration.json");

    public async ValueTask InitializeAsync() => _bed = await FirstBootBed.StartAsync(hubs: 2);

    public async ValueTask DisposeAsync()
    {
        if (_bed is not null)
        {
            await _bed.DisposeAsync();
        }

        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private ProvisioningDeviceClient Provisioning(ProvisioningAttestation attestation)
    {
        var options = new ProvisioningClientOptions { RegistrationCache = new FileRegistrationCache(CachePath) };
        options.TrustedRootCertificates.Add(Bed.Dps.CertificateAuthority.Certificate);
        return new ProvisioningDeviceClient(Bed.Dps.GlobalEndpoint.ToString(), Bed.Dps.IdScope, attestation, options);
    }

    private DeviceConnectorOptions ConnectorOptions(Action<DeviceClientOptions>? hub = null) => new()
    {
        HubOptions = Bed.HubOptions(hub),
        HubUnreachableTimeout = TimeSpan.FromSeconds(3),
        MinRetryDelay = TimeSpan.FromMilliseconds(50),
        MaxRetryDelay = TimeSpan.FromMilliseconds(200),
    };

    private async Task<SymmetricKeyAttestation> EnrollAsync(string registrationId)
    {
        var keys = await Bed.Dps.Enrollments.AddSymmetricKeyAsync(registrationId, cancellationToken: Ct);
        return new SymmetricKeyAttestation(registrationId, keys.PrimaryKey);
    }

    private Task WriteCacheAsync(string registrationId, string hub, string deviceId) =>
        new FileRegistrationCache(CachePath).SaveAsync(
            new CachedRegistration { IdScope = Bed.Dps.IdScope, RegistrationId = registrationId, AssignedHub = hub, DeviceId = deviceId, RegisteredAt = DateTimeOffset.UtcNow },
            Ct).AsTask();

    [Fact]
    public async Task Connect_FirstBootThenReboot_RegistersWithDpsThenConnectsFromTheCache()
    {
        using var attestation = await EnrollAsync("connector-boot");
        using (var provisioning = Provisioning(attestation))
        {
            await using var first = await new DeviceConnector(provisioning, ConnectorOptions()).ConnectAsync(Ct);
            Assert.False(first.Registration!.IsFromCache);
            await Bed.SendAndReceiveAsync(first);
        }

        using (var provisioning = Provisioning(attestation))
        {
            await using var second = await new DeviceConnector(provisioning, ConnectorOptions()).ConnectAsync(Ct);
            Assert.True(second.Registration!.IsFromCache);
            Assert.Equal(ConnectionState.Connected, second.State);
        }
    }

    [Fact]
    public async Task Connect_WhenTheHubRefusesTheCachedIdentity_GoesBackToDpsAndConnects()
    {
        using var attestation = await EnrollAsync("connector-refused");
        // A cached identity the hub does not know (the device was deleted and re-created under another id, say).
        await WriteCacheAsync("connector-refused", Bed.Dps.Hubs[0].HostName, "deleted-device");
        using var provisioning = Provisioning(attestation);
        var connector = new DeviceConnector(provisioning, ConnectorOptions());
        var events = new List<ReprovisioningEventArgs>();
        connector.Reprovisioning += (_, e) => events.Add(e);

        await using var client = await connector.ConnectAsync(Ct);

        var reprovisioned = Assert.Single(events);
        Assert.Equal(ReprovisioningReason.HubRefused, reprovisioned.Reason);
        Assert.True(reprovisioned.Registration.IsFromCache);
        Assert.True(Assert.IsType<HubException>(reprovisioned.Error).RequiresReprovisioning);
        Assert.Equal(TimeSpan.Zero, reprovisioned.Delay);
        Assert.False(client.Registration!.IsFromCache);
        Assert.Equal("connector-refused", client.DeviceId);
        await Bed.SendAndReceiveAsync(client);
        var cached = await new FileRegistrationCache(CachePath).LoadAsync(Ct);
        Assert.Equal("connector-refused", cached!.DeviceId);
    }

    [Fact]
    public async Task Connect_WhenTheCachedHubIsUnreachable_GoesBackToDpsAfterTheBoundedWait()
    {
        using var attestation = await EnrollAsync("connector-unreachable");
        await WriteCacheAsync("connector-unreachable", "gone.firstboot.localhost", "connector-unreachable");
        var closed = new TcpListener(IPAddress.Loopback, 0);
        closed.Start();
        var port = ((IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        using var provisioning = Provisioning(attestation);
        var connector = new DeviceConnector(provisioning, ConnectorOptions(o => o.HubAddresses["gone.firstboot.localhost"] = $"127.0.0.1:{port}"));
        var events = new List<ReprovisioningEventArgs>();
        connector.Reprovisioning += (_, e) => events.Add(e);

        await using var client = await connector.ConnectAsync(Ct);

        var reprovisioned = Assert.Single(events);
        Assert.Equal(ReprovisioningReason.HubUnreachable, reprovisioned.Reason);
        Assert.Contains("gone.firstboot.localhost did not accept a connection", reprovisioned.Error.Message, StringComparison.Ordinal);
        Assert.Contains("; last failure: ", reprovisioned.Error.Message, StringComparison.Ordinal);
        Assert.Contains(client.HubHostName, Bed.Dps.Hubs.Select(h => h.HostName));
        await Bed.SendAndReceiveAsync(client);
    }

    [Fact]
    public async Task Connect_WhenTheCachedIdentityIsInvalid_DiscardsItAndRegistersWithDps()
    {
        using var attestation = await EnrollAsync("connector-invalid");
        // What an older version cached from a hostile DPS: a device id the hub client cannot use.
        await WriteCacheAsync("connector-invalid", Bed.Dps.Hubs[0].HostName, "../../x/#");
        using var provisioning = Provisioning(attestation);

        await using var client = await new DeviceConnector(provisioning, ConnectorOptions()).ConnectAsync(Ct);

        Assert.False(client.Registration!.IsFromCache);
        Assert.Equal("connector-invalid", client.DeviceId);
        Assert.Equal("connector-invalid", (await new FileRegistrationCache(CachePath).LoadAsync(Ct))!.DeviceId);
    }

    [Fact]
    public async Task Connect_WhenDpsKeepsAssigningAnUnreachableHub_RetriesItWithGrowingBackoffThenThrows()
    {
        using var attestation = await EnrollAsync("connector-same-hub");
        using var provisioning = Provisioning(attestation);
        await provisioning.RegisterAsync(Ct);
        // Each hub name dialled at the other hub: whichever DPS assigns fails the TLS name check, so never accepts the
        // connection, and DPS's hashed allocation assigns the same one every time.
        var (a, b) = (Bed.Dps.Hubs[0].HostName, Bed.Dps.Hubs[1].HostName);
        var options = ConnectorOptions(o =>
        {
            o.Jitter = () => 0.0;
            (o.HubAddresses[a], o.HubAddresses[b]) = (o.HubAddresses[b], o.HubAddresses[a]);
        });
        options.HubUnreachableTimeout = TimeSpan.FromSeconds(1);
        options.MaxAttempts = 4;
        var connector = new DeviceConnector(provisioning, options);
        var events = new List<ReprovisioningEventArgs>();
        connector.Reprovisioning += (_, e) => events.Add(e);

        var error = await Assert.ThrowsAsync<HubException>(() => connector.ConnectAsync(Ct));

        Assert.True(error.IsTransient);
        Assert.Null(error.Refusal);
        Assert.Contains("did not accept a connection", error.Message, StringComparison.Ordinal);
        // Why, in the error: the hub's certificate names the other hub.
        Assert.Contains("the hub certificate was refused: name mismatch", error.Message, StringComparison.Ordinal);
        Assert.Equal(3, events.Count);
        Assert.All(events, e => Assert.Equal(ReprovisioningReason.HubUnreachable, e.Reason));
        Assert.Equal([true, false, false], events.Select(e => e.Registration.IsFromCache));
        Assert.Single(events.Select(e => e.Registration.AssignedHub).Distinct());
        // The cached hub costs no wait; then fresh DPS assignments of the same hub: 25 ms, 50 ms (half of 50 and 100 with jitter 0).
        Assert.Equal([TimeSpan.Zero, TimeSpan.FromMilliseconds(25), TimeSpan.FromMilliseconds(50)], events.Select(e => e.Delay));
        // An unreachable hub is not a bad identity: the entry stays, for a device whose DPS is down too next time.
        Assert.NotNull(await new FileRegistrationCache(CachePath).LoadAsync(Ct));
    }
}

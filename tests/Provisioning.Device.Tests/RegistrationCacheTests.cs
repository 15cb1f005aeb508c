using System.Net;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests;

public sealed class RegistrationCacheTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "prov-cache-" + Guid.NewGuid().ToString("N"));

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string CachePath => Path.Combine(_folder, "state", "registration.json");

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private static CachedRegistration Entry(string hub = "hub-a.azure-devices.net") => new()
    {
        IdScope = Dps.IdScope,
        RegistrationId = "device-01",
        AssignedHub = hub,
        DeviceId = "device-01",
        RegisteredAt = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero),
        JsonPayload = """{"k":1}""",
    };

    [Fact]
    public async Task FileCache_SaveThenLoad_RoundTrips()
    {
        var cache = new FileRegistrationCache(CachePath);

        await cache.SaveAsync(Entry(), Ct);
        CachedRegistration? loaded = await cache.LoadAsync(Ct);

        Assert.NotNull(loaded);
        Assert.Equal((Dps.IdScope, "device-01", "hub-a.azure-devices.net", "device-01", """{"k":1}"""), (loaded.IdScope, loaded.RegistrationId, loaded.AssignedHub, loaded.DeviceId, loaded.JsonPayload));
        Assert.Equal(Entry().RegisteredAt, loaded.RegisteredAt);
    }

    [Fact]
    public async Task FileCache_WritesOwnerOnlyFileAndFolder()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Unix permissions");
            return;
        }

        var cache = new FileRegistrationCache(CachePath);

        await cache.SaveAsync(Entry(), Ct);
        await cache.SaveAsync(Entry("hub-b"), Ct);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(CachePath));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(CachePath)!));
    }

    [Fact]
    public async Task FileCache_ReplacesAtomicallyAndLeavesNoTemporaryFiles()
    {
        var cache = new FileRegistrationCache(CachePath);
        await cache.SaveAsync(Entry("hub-0"), Ct);

        // Writers race; every reader in between sees one whole entry, never a mix or a partial file.
        var readers = Task.Run(async () =>
        {
            for (int i = 0; i < 200; i++)
            {
                CachedRegistration? seen = await cache.LoadAsync(Ct);
                Assert.NotNull(seen);
                Assert.StartsWith("hub-", seen.AssignedHub, StringComparison.Ordinal);
            }
        }, Ct);
        await Task.WhenAll(Enumerable.Range(1, 20).Select(i => cache.SaveAsync(Entry($"hub-{i}"), Ct).AsTask()));
        await readers;

        Assert.Equal(["registration.json"], Directory.GetFiles(Path.GetDirectoryName(CachePath)!).Select(Path.GetFileName));
    }

    [Fact]
    public async Task FileCache_WhenTheFileIsMissing_LoadsNothing()
    {
        Assert.Null(await new FileRegistrationCache(CachePath).LoadAsync(Ct));
    }

    [Theory]
    [InlineData("not JSON", "{{{")]
    [InlineData("missing hub", """{"idScope":"s","registrationId":"r","deviceId":"d","registeredAt":"2030-01-01T00:00:00Z"}""")]
    public async Task FileCache_WhenTheFileIsCorrupt_ThrowsInvalidData(string @case, string content)
    {
        Assert.NotNull(@case);
        Directory.CreateDirectory(Path.GetDirectoryName(CachePath)!);
        await File.WriteAllTextAsync(CachePath, content, Ct);

        await Assert.ThrowsAsync<InvalidDataException>(async () => await new FileRegistrationCache(CachePath).LoadAsync(Ct));
    }

    [Fact]
    public async Task Register_WithACache_SavesTheAssignmentThenReturnsItWithoutAskingTheService()
    {
        var handler = new ScriptedHttpHandler().ThenRespond(HttpStatusCode.OK, Dps.Assigned());
        ProvisioningClientOptions options = TestClients.Options();
        options.RegistrationCache = new FileRegistrationCache(CachePath);
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation, options);

        DeviceRegistrationResult first = await client.RegisterAsync(cancellationToken: Ct);
        DeviceRegistrationResult second = await client.RegisterAsync(cancellationToken: Ct);

        Assert.False(first.IsFromCache);
        Assert.True(second.IsFromCache);
        Assert.Equal((first.AssignedHub, first.DeviceId, first.JsonPayload), (second.AssignedHub, second.DeviceId, second.JsonPayload));
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Register_AfterInvalidateOrWithBypass_AsksTheServiceAgain()
    {
        var handler = new ScriptedHttpHandler()
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned())
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned())
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned());
        ProvisioningClientOptions options = TestClients.Options();
        options.RegistrationCache = new FileRegistrationCache(CachePath);
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation, options);

        await client.RegisterAsync(cancellationToken: Ct);
        await client.InvalidateCachedRegistrationAsync(Ct);
        Assert.False(File.Exists(CachePath));
        DeviceRegistrationResult afterInvalidate = await client.RegisterAsync(cancellationToken: Ct);
        DeviceRegistrationResult bypassed = await client.RegisterAsync(new() { BypassCache = true }, Ct);

        Assert.False(afterInvalidate.IsFromCache);
        Assert.False(bypassed.IsFromCache);
        Assert.Equal(3, handler.Requests.Count);
    }

    [Fact]
    public async Task Register_WhenTheCacheIsForAnotherDeviceOrCorrupt_AsksTheService()
    {
        var cache = new FileRegistrationCache(CachePath);
        await cache.SaveAsync(new CachedRegistration { IdScope = Dps.IdScope, RegistrationId = "other", AssignedHub = "h", DeviceId = "other", RegisteredAt = DateTimeOffset.UnixEpoch }, Ct);
        var handler = new ScriptedHttpHandler().ThenRespond(HttpStatusCode.OK, Dps.Assigned()).ThenRespond(HttpStatusCode.OK, Dps.Assigned());
        var logs = new CapturingLoggerFactory();
        ProvisioningClientOptions options = TestClients.Options();
        options.RegistrationCache = cache;
        options.LoggerFactory = logs;
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation, options);

        Assert.False((await client.RegisterAsync(cancellationToken: Ct)).IsFromCache);
        await File.WriteAllTextAsync(CachePath, "garbage", Ct);
        Assert.False((await client.RegisterAsync(cancellationToken: Ct)).IsFromCache);

        Assert.Equal(2, handler.Requests.Count);
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning 5", StringComparison.Ordinal));
    }
}

using System.Net;
using System.Net.Sockets;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests;

/// <summary>
/// The cases seen in the field (issue 11), each against a DPS that misbehaves over a real loopback socket and real TLS: bad
/// answers never reach the cache, redirects are not followed, long Retry-After ends at once, and errors say what happened.
/// </summary>
public sealed class HostileDpsTests : IClassFixture<HostileDpsTests.Pki>, IDisposable
{
    private readonly TestPki _pki;
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "prov-hostile-" + Guid.NewGuid().ToString("N"));

    public HostileDpsTests(Pki pki)
    {
        _pki = pki.Value;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string CachePath => Path.Combine(_folder, "registration.json");

    public void Dispose()
    {
        if (Directory.Exists(_folder))
        {
            Directory.Delete(_folder, recursive: true);
        }
    }

    private ProvisioningClientOptions Options(bool cache = true, bool trustRoot = true)
    {
        var options = new ProvisioningClientOptions
        {
            RequestTimeout = TimeSpan.FromSeconds(20),
            RegistrationTimeout = TimeSpan.FromMinutes(2),
            RetryPolicy = new ProvisioningRetryPolicy { MaxRetries = 1, InitialDelay = TimeSpan.FromMilliseconds(10) },
        };
        if (cache)
        {
            options.RegistrationCache = new FileRegistrationCache(CachePath);
        }

        if (trustRoot)
        {
            options.TrustedRootCertificates.Add(_pki.PublicRoot);
        }

        return options;
    }

    private static string AssignedAs(string deviceId, string hub = "contoso.azure-devices.net") =>
        "{\"operationId\":\"op\",\"status\":\"assigned\",\"registrationState\":{\"registrationId\":\"device-01\"," +
        "\"assignedHub\":\"" + hub + "\",\"deviceId\":\"" + deviceId + "\",\"status\":\"assigned\"}}";

    [Theory]
    [InlineData("../../x/#", "character 3 is '/'")]
    [InlineData("a+b/c", "character 2 is '+'")]
    public async Task Register_WhenDpsAssignsAnInvalidDeviceId_FailsNamingTheRuleCachesNothingAndAsksDpsAgainNextBoot(string deviceId, string why)
    {
        bool healed = false;
        await using var dps = new HostileDps(_pki.Server, (_, _) => HostileReply.Respond(200, AssignedAs(Volatile.Read(ref healed) ? "device-01" : deviceId)));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();

        using (var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, Options()))
        {
            ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

            Assert.False(ex.IsTransient);
            Assert.Contains($"invalid registrationState.deviceId ({why})", ex.Message, StringComparison.Ordinal);
            Assert.Contains("IoT Hub's set without the MQTT wildcards + and #", ex.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(CachePath));
        }

        // The next boot: DPS answers correctly now, and the device asks it (the bad answer left nothing behind).
        Volatile.Write(ref healed, true);
        using (var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, Options()))
        {
            DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: Ct);

            Assert.False(result.IsFromCache);
            Assert.Equal("device-01", result.DeviceId);
        }

        Assert.Equal(2, dps.Requests.Count);
        Assert.True(File.Exists(CachePath));
    }

    [Theory]
    [InlineData("../../x/#", "contoso.azure-devices.net", "deviceId breaks the rule")]
    [InlineData("device-01", "evil.example/path", "assignedHub breaks the rule")]
    [InlineData("device-01", "10.0.0.1", "assignedHub breaks the rule")]
    public async Task Register_WhenTheCachedEntryIsInvalid_DiscardsItAndAsksDps(string cachedDeviceId, string cachedHub, string logged)
    {
        await new FileRegistrationCache(CachePath).SaveAsync(
            new CachedRegistration
            {
                IdScope = Dps.IdScope,
                RegistrationId = "device-01",
                AssignedHub = cachedHub,
                DeviceId = cachedDeviceId,
                RegisteredAt = DateTimeOffset.UtcNow,
            },
            Ct);
        await using var dps = new HostileDps(_pki.Server, (_, _) => HostileReply.Respond(200, AssignedAs("device-01")));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        var logs = new CapturingLoggerFactory();
        ProvisioningClientOptions options = Options();
        options.LoggerFactory = logs;
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, options);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: Ct);

        Assert.False(result.IsFromCache);
        Assert.Single(dps.Requests);
        Assert.Contains(logs.Lines, m => m.Contains(logged, StringComparison.Ordinal));
        CachedRegistration? rewritten = await new FileRegistrationCache(CachePath).LoadAsync(Ct);
        Assert.Equal(("contoso.azure-devices.net", "device-01"), (rewritten!.AssignedHub, rewritten.DeviceId));
    }

    [Theory]
    [InlineData(302)]
    [InlineData(307)]
    [InlineData(308)]
    public async Task Register_WhenDpsRedirects_FailsNamingTheHostAndSendsNothingThere(int status)
    {
        await using var elsewhere = new HostileDps(_pki.Server, (_, _) => HostileReply.Respond(200, AssignedAs("stolen")));
        string location = $"https://127.0.0.1:{elsewhere.Port}/{Dps.IdScope}/registrations/device-01/register?api-version=2019-03-31";
        await using var dps = new HostileDps(_pki.Server, (_, _) => HostileReply.Respond(status, null, ("Location", location)));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, Options());

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.False(ex.IsTransient);
        Assert.Equal((HttpStatusCode)status, ex.StatusCode);
        Assert.Contains($"redirect {status}", ex.Message, StringComparison.Ordinal);
        Assert.Contains("host '127.0.0.1'", ex.Message, StringComparison.Ordinal);
        Assert.Single(dps.Requests);
        Assert.Empty(elsewhere.Requests);
        Assert.False(File.Exists(CachePath));
    }

    [Fact]
    public async Task Register_WhenRetryAfterReachesPastTheDeadline_EndsAtOnceSayingWhatTheServerAskedFor()
    {
        await using var dps = new HostileDps(_pki.Server, (_, _) => HostileReply.Respond(202, Dps.Assigning(), ("Retry-After", "99999")));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, Options());

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.True(ex.IsTransient);
        Assert.Equal(TimeSpan.FromSeconds(99999), ex.RetryAfter);
        Assert.Contains("asked to wait 99999 s (27 h 46 min) (Retry-After)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("of the 120 s (2 min 0 s) registration deadline is left", ex.Message, StringComparison.Ordinal);
        Assert.Single(dps.Requests);
    }

    [Fact]
    public async Task Register_When429RetryAfterReachesPastTheDeadline_EndsAtOnceWithTheThrottlingError()
    {
        await using var dps = new HostileDps(_pki.Server, (_, _) => HostileReply.Respond(429, Dps.Error(429001, "Throttled"), ("Retry-After", "3600")));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, Options());

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.Equal(HttpStatusCode.TooManyRequests, ex.StatusCode);
        Assert.Equal(429001, ex.ErrorCode);
        Assert.Contains("asked to wait 3600 s (1 h 0 min)", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Throttled", ex.Message, StringComparison.Ordinal);
        Assert.Single(dps.Requests);
    }

    [Fact]
    public async Task Register_WhenTheConnectionIsReset_SaysResetWithHostPortAndSocketError()
    {
        await using var dps = new HostileDps(_pki.Server, (_, _) => HostileReply.Reset);
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, Options());

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.True(ex.IsTransient);
        Assert.Contains($"connection reset by the peer, localhost:{dps.Port} (socket error ConnectionReset", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("Unknown", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, dps.Requests.Count);
    }

    [Fact]
    public async Task Register_WhenTheConnectionIsRefused_SaysRefusedWithHostPortAndSocketError()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"127.0.0.1:{port}", Dps.IdScope, attestation, Options());

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.True(ex.IsTransient);
        Assert.Contains($"connection refused (nothing listens there, or a firewall rejects it), 127.0.0.1:{port} (socket error ConnectionRefused", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("untrusted root", false)]
    [InlineData("name mismatch", true)]
    [InlineData("expired", true)]
    public async Task Register_WhenTheServerCertificateIsRefused_SaysWhyAndWhose(string reason, bool trustRoot)
    {
        using var expired = _pki.IssueExpiredServer();
        var (certificate, subject) = reason switch
        {
            "name mismatch" => (_pki.WrongNameServer, "CN=elsewhere.example"),
            "expired" => (expired, "CN=expired.localhost"),
            _ => (_pki.Server, "CN=localhost"),
        };
        await using var dps = new HostileDps(certificate, (_, _) => HostileReply.Respond(200, AssignedAs("device-01")));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, Options(trustRoot: trustRoot));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains($"the TLS handshake with localhost:{dps.Port} failed: the server certificate was refused: {reason}", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"certificate subject '{subject}'", ex.Message, StringComparison.Ordinal);
        Assert.Empty(dps.Requests);
    }

    public sealed class Pki : IDisposable
    {
        public TestPki Value { get; } = new();

        public void Dispose() => Value.Dispose();
    }
}

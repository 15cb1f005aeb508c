using System.Net;

using Provisioning.Device.Tests.Fakes;
using Provisioning.Device.Tests.Integration;
using Provisioning.Device.Tpm;
using Provisioning.Emulator.Enrollments;

namespace Provisioning.Device.Tests;

/// <summary>
/// HTTPS without a proxy goes through the library's own HTTP/1.1 over one TLS connection: against the in-process emulator (real
/// TLS, its CA as an extra root) and against a DPS that misbehaves on the wire (split, chunked, malformed, truncated and stalled
/// answers, idle connections closed under it).
/// </summary>
public sealed class DirectHttpsTests : IClassFixture<DirectHttpsTests.Pki>
{
    private readonly TestPki _pki;

    public DirectHttpsTests(Pki pki)
    {
        _pki = pki.Value;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ProvisioningClientOptions Options(TimeSpan? requestTimeout = null)
    {
        var options = new ProvisioningClientOptions
        {
            RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(20),
            RegistrationTimeout = TimeSpan.FromMinutes(2),
            RetryPolicy = new ProvisioningRetryPolicy { MaxRetries = 1, InitialDelay = TimeSpan.FromMilliseconds(10) },
        };
        options.TrustedRootCertificates.Add(_pki.PublicRoot);
        return options;
    }

    [Fact]
    public void Client_WithoutAProxy_UsesTheDirectTransport_AndWithOneHttpClient()
    {
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        ProvisioningClientOptions proxied = Options();
        proxied.Proxy = new WebProxy("http://127.0.0.1:3128");

        using var direct = new ProvisioningDeviceClient("localhost:4443", Dps.IdScope, attestation, Options());
        using var viaProxy = new ProvisioningDeviceClient("localhost:4443", Dps.IdScope, attestation, proxied);

        Assert.True(direct.UsesDirectHttps);
        Assert.False(viaProxy.UsesDirectHttps);
    }

    [Fact]
    public async Task Register_SymmetricKeyAgainstTheEmulator_IsAssignedAndTheHubAcceptsItsTokens()
    {
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("direct-device", cancellationToken: Ct);
        using var attestation = new SymmetricKeyAttestation("direct-device", keys.PrimaryKey);
        using var client = new ProvisioningDeviceClient(session.Dps.GlobalEndpoint, session.Dps.IdScope, attestation, session.CreateOptions());

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: Ct);

        Assert.True(client.UsesDirectHttps);
        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("direct-device", result.DeviceId);
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
    }

    [Fact]
    public async Task Register_SoftwareTpmAgainstTheEmulator_AnswersTheChallengeOnTheSameClientAndIsAssigned()
    {
        await using TpmIdentity identity = TpmIdentity.Open("software");
        await using var session = await EmulatorSession.StartAsync();
        string registrationId = await identity.GetRegistrationIdAsync(Ct);
        await session.Dps.Enrollments.AddTpmAsync(registrationId, await identity.GetEndorsementKeyAsync(Ct), cancellationToken: Ct);
        using var attestation = new TpmAttestation(identity);
        using var client = new ProvisioningDeviceClient(session.Dps.GlobalEndpoint, session.Dps.IdScope, attestation, session.CreateOptions());

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: Ct);

        Assert.True(client.UsesDirectHttps);
        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
    }

    [Fact]
    public async Task Register_ThenPoll_GoOverOneConnection()
    {
        await using var dps = new HostileDps(_pki.Server, (line, _) => line.StartsWith("PUT", StringComparison.Ordinal)
            ? HostileReply.Respond(202, Dps.Assigning(), ("Retry-After", "0"))
            : HostileReply.Respond(200, Dps.Assigned()));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, Options());

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(
            [$"PUT /{Dps.IdScope}/registrations/device-01/register?api-version=2019-03-31 HTTP/1.1", $"GET /{Dps.IdScope}/registrations/device-01/operations/4.d0a6.op?api-version=2019-03-31 HTTP/1.1"],
            dps.Requests);
        Assert.Equal(1, dps.Connections);
    }

    [Fact]
    public async Task Register_WhenTheServerClosedTheIdleConnection_SendsThePollOnceMoreOnANewOne()
    {
        await using var dps = new HostileDps(_pki.Server, (line, _) => line.StartsWith("PUT", StringComparison.Ordinal)
            ? HostileReply.RespondThenClose(202, Dps.Assigning())
            : HostileReply.Respond(200, Dps.Assigned()));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        ProvisioningClientOptions options = Options();
        options.RetryPolicy.MaxRetries = 0;
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, options);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(2, dps.Connections);
        Assert.Equal(2, dps.Requests.Count);
    }

    [Fact]
    public async Task Register_ChunkedAnswerInTinyChunks_IsAssigned()
    {
        string json = Dps.Assigned();
        string chunked = string.Concat(json.Chunk(5).Select(c => $"{c.Length:X}\r\n{new string(c)}\r\n")) + "0\r\n\r\n";
        await using var dps = new HostileDps(_pki.Server, (_, _) => HostileReply.Raw("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, Options());

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("device-01", result.DeviceId);
    }

    [Fact]
    public async Task Register_WhenTheAnswerIsNotValidHttp_FailsTransientSayingWhatAndWhere()
    {
        await using var dps = new HostileDps(_pki.Server, (_, _) => HostileReply.Raw("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", close: true));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, Options());

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.True(ex.IsTransient);
        Assert.Contains($"the server's answer is not valid HTTP, localhost:{dps.Port} (conflicting Content-Length headers)", ex.Message, StringComparison.Ordinal);
        Assert.Equal(2, dps.Requests.Count);
    }

    [Fact]
    public async Task Register_WhenTheAnswerIsCutShort_FailsTransientSayingHowMuchCame()
    {
        await using var dps = new HostileDps(_pki.Server, (_, _) => HostileReply.Raw("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"operationId\"", close: true));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, Options());

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.True(ex.IsTransient);
        Assert.Contains("the server closed the connection before a complete answer", ex.Message, StringComparison.Ordinal);
        Assert.Contains("the body ended after 14 of 100 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_WhenTheBodyIsOverTheLimit_FailsMalformedWithoutReadingIt()
    {
        await using var dps = new HostileDps(_pki.Server, (_, _) => HostileReply.Raw("HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n{", close: true));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, Options());

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("the body is 200000 bytes, over the 96 KB limit", ex.Message, StringComparison.Ordinal);
        Assert.Single(dps.Requests);
    }

    [Fact]
    public async Task Register_WhenTheServerTricklesItsAnswer_HitsTheRequestDeadlineWithAClearError()
    {
        await using var dps = new HostileDps(_pki.Server, (_, _) => HostileReply.Trickle(TimeSpan.FromMilliseconds(100)));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        ProvisioningClientOptions options = Options(requestTimeout: TimeSpan.FromSeconds(1));
        options.RetryPolicy.MaxRetries = 0;
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, options);

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.True(ex.IsTransient);
        Assert.Contains($"to localhost:{dps.Port} timed out after 1 s (only ", ex.Message, StringComparison.Ordinal);
        Assert.Contains("bytes of an answer, not all of it; connecting included)", ex.Message, StringComparison.Ordinal);
        Assert.IsAssignableFrom<OperationCanceledException>(ex.InnerException);
    }

    [Fact]
    public async Task Register_WhenTheServerTricklesItsAnswer_HitsTheRequestDeadlineOnTheConfiguredClock()
    {
        await using var dps = new HostileDps(_pki.Server, (_, _) => HostileReply.Trickle(TimeSpan.FromMilliseconds(50)));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        ProvisioningClientOptions options = Options(requestTimeout: TimeSpan.FromSeconds(5));
        options.TimeProvider = time;
        options.RegistrationTimeout = Timeout.InfiniteTimeSpan;
        options.RetryPolicy.MaxRetries = 0;
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, options);

        Task<DeviceRegistrationResult> registration = client.RegisterAsync(cancellationToken: Ct);
        while (dps.Requests.Count == 0 && !registration.IsCompleted)
        {
            await Task.Delay(10, Ct);
        }

        // Only the fake clock moves the deadline: real time alone never ends the request.
        time.Advance(TimeSpan.FromSeconds(6));
        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => registration);

        Assert.True(ex.IsTransient);
        Assert.Contains("timed out after 5 s", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    public async Task RegisterAgain_ReusesTheKeptConnectionUnlessItWasIdleTooLong(bool waitPastIdleTimeout, int connections)
    {
        await using var dps = new HostileDps(_pki.Server, (_, _) => HostileReply.Respond(200, Dps.Assigned()));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        ProvisioningClientOptions options = Options();
        options.TimeProvider = time;
        using var client = new ProvisioningDeviceClient(dps.Endpoint, Dps.IdScope, attestation, options);

        await client.RegisterAsync(cancellationToken: Ct);
        if (waitPastIdleTimeout)
        {
            time.Advance(Transport.Http.DirectHttpsTransport.IdleTimeout + TimeSpan.FromSeconds(1));
        }

        DeviceRegistrationResult again = await client.RegisterAsync(cancellationToken: Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, again.Status);
        Assert.Equal(2, dps.Requests.Count);
        Assert.Equal(connections, dps.Connections);
    }

    public sealed class Pki : IDisposable
    {
        public TestPki Value { get; } = new();

        public void Dispose() => Value.Dispose();
    }
}

using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

using Provisioning.Device.Tpm;
using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Faults;
using Provisioning.Testing;

namespace Provisioning.Device.Tests.Integration;

/// <summary>
/// The client against the in-process emulator over DPS-over-AMQP, real sockets and TLS, over TCP and WebSockets
/// (dps-protocol.md §6): symmetric key in SASL PLAIN, X.509 in the TLS handshake, TPM in the SASL TPM exchange; the
/// same typed errors, retries and faults as HTTPS.
/// </summary>
public sealed class AmqpIntegrationTests(SwtpmFixture swtpm) : IClassFixture<SwtpmFixture>
{
    public static TheoryData<ProvisioningTransport> Transports => [ProvisioningTransport.Amqp, ProvisioningTransport.AmqpWebSockets];

    internal static ProvisioningDeviceClient CreateClient(EmulatorSession session, ProvisioningAttestation attestation, ProvisioningTransport transport, ProvisioningClientOptions? options = null)
    {
        options ??= session.CreateOptions();
        options.Transport = transport;
        string endpoint = transport == ProvisioningTransport.Amqp
            ? session.Dps.AmqpEndpoint!
            : $"wss://{session.Dps.AmqpWebSocketEndpoint!.Authority}";
        return new ProvisioningDeviceClient(endpoint, session.Dps.IdScope, attestation, options);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_SymmetricKeyIndividual_IsAssignedAndSignsForItsHub(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("amqp-sym-1", cancellationToken: ct);
        using var attestation = new SymmetricKeyAttestation("amqp-sym-1", keys.PrimaryKey);
        using var client = CreateClient(session, attestation, transport);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("amqp-sym-1", result.DeviceId);
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
        await WaitUntilNoConnectionAsync(session);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_SymmetricKeyGroupMemberWithPayload_IsAssignedThroughTheGroup(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair group = await session.Dps.Enrollments.AddSymmetricKeyGroupAsync("amqp-sym-group", cancellationToken: ct);
        using var attestation = SymmetricKeyAttestation.FromEnrollmentGroup("amqp-member-1", group.PrimaryKey);
        using var client = CreateClient(session, attestation, transport);

        DeviceRegistrationResult result = await client.RegisterAsync(new ProvisioningRegistrationRequest { JsonPayload = """{"modelId":"dtmi:x:y;1"}""" }, ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("amqp-sym-group", result.EnrollmentGroupId);
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_WrongSymmetricKey_IsRefusedInSaslNotTransient(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        await session.Dps.Enrollments.AddSymmetricKeyAsync("amqp-sym-wrong", cancellationToken: ct);
        using var attestation = new SymmetricKeyAttestation("amqp-sym-wrong", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
        using var client = CreateClient(session, attestation, transport);

        var ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: ct));

        Assert.False(ex.IsTransient);
        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.Contains("SASL", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_X509Individual_IsAssignedByTheTlsClientCertificate(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        using X509Certificate2 device = X509IntegrationTests.CreateCertificate("CN=amqp-x509-1", issuer: null, isCa: false);
        await session.Dps.Enrollments.AddX509Async("amqp-x509-1", X509CertificateLoader.LoadCertificate(device.RawData), cancellationToken: ct);
        using var attestation = new X509Attestation(device);
        using var client = CreateClient(session, attestation, transport);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(device.Thumbprint, result.CertificateInfo?.Sha1Thumbprint, StringComparer.OrdinalIgnoreCase);
    }

    /// <remarks>The group is enrolled by its root; the intermediate reaches the emulator only in the TLS handshake.</remarks>
    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_X509GroupMemberUnderIntermediate_SendsTheChainInTheHandshakeAndIsAssigned(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        using X509Certificate2 root = X509IntegrationTests.CreateCertificate("CN=Amqp Integration Root", issuer: null, isCa: true);
        using X509Certificate2 intermediate = X509IntegrationTests.CreateCertificate("CN=Amqp Integration Intermediate", root, isCa: true);
        using X509Certificate2 device = X509IntegrationTests.CreateCertificate("CN=amqp-x509-member", intermediate, isCa: false);
        await session.Dps.Enrollments.AddX509GroupAsync("amqp-x509-group", X509CertificateLoader.LoadCertificate(root.RawData), cancellationToken: ct);
        using var attestation = new X509Attestation(device, [X509CertificateLoader.LoadCertificate(intermediate.RawData)]);
        using var client = CreateClient(session, attestation, transport);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("amqp-x509-group", result.EnrollmentGroupId);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_X509NotEnrolled_IsRejectedWithTheDpsErrorNotTransient(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        using X509Certificate2 device = X509IntegrationTests.CreateCertificate("CN=amqp-x509-stranger", issuer: null, isCa: false);
        using var attestation = new X509Attestation(device);
        using var client = CreateClient(session, attestation, transport);

        var ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: ct));

        Assert.False(ex.IsTransient);
        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.NotNull(ex.ErrorCode);
        Assert.NotNull(ex.TrackingId);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_DisabledEnrollment_ReturnsDisabledNotAnException(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("amqp-disabled", new EnrollmentSettings { Enabled = false }, ct);
        using var attestation = new SymmetricKeyAttestation("amqp-disabled", keys.PrimaryKey);
        using var client = CreateClient(session, attestation, transport);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Disabled, result.Status);
        Assert.Null(result.AssignedHub);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_WithSoftwareTpm_IsChallengedInSaslThenAssignedAndTheHubKeyIsActivated(ProvisioningTransport transport)
    {
        await using TpmIdentity identity = TpmIdentity.Open("software");
        await RegisterTpmAndVerifyAsync(identity, transport);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    [Trait("Category", "Interop")]
    public async Task Register_WithSwtpm_IsChallengedInSaslThenAssignedAndTheHubKeyIsActivated(ProvisioningTransport transport)
    {
        SwtpmInstance instance = await swtpm.GetAsync();
        await using TpmIdentity identity = TpmIdentity.Open(instance.TransportSpec);
        await RegisterTpmAndVerifyAsync(identity, transport);
    }

    [Fact]
    public async Task Register_TpmNotEnrolled_IsRefusedInSaslNotTransient()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TpmIdentity identity = TpmIdentity.Open("software");
        await using var session = await EmulatorSession.StartAsync();
        using var attestation = new TpmAttestation(identity);
        using var client = CreateClient(session, attestation, ProvisioningTransport.Amqp);

        var ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: ct));

        Assert.False(ex.IsTransient);
        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_WhenRegisterIsThrottledOnce_RetriesAfterTheRejectionAndIsAssigned(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync(o => o.Faults.Add(new FaultRule
        {
            Endpoint = DpsEndpoint.Register, Transport = DpsTransport.Amqp, Kind = FaultKind.TooManyRequests, MaxFaults = 1, RetryAfter = TimeSpan.FromSeconds(1),
        }));
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("amqp-throttled", cancellationToken: ct);
        using var attestation = new SymmetricKeyAttestation("amqp-throttled", keys.PrimaryKey);
        using var client = CreateClient(session, attestation, transport);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_WhenTheConnectionIsDroppedOnce_ReconnectsAndIsAssigned(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync(o => o.Faults.Add(new FaultRule
        {
            Endpoint = DpsEndpoint.Register, Transport = DpsTransport.Amqp, Kind = FaultKind.DropConnection, MaxFaults = 1,
        }));
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("amqp-dropped", cancellationToken: ct);
        using var attestation = new SymmetricKeyAttestation("amqp-dropped", keys.PrimaryKey);
        using var client = CreateClient(session, attestation, transport);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
    }

    [Fact]
    public async Task Register_WhenEveryRegisterFailsWith500_GivesUpWithATransientTypedError()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync(o => o.Faults.Add(new FaultRule
        {
            Endpoint = DpsEndpoint.Register, Transport = DpsTransport.Amqp, Kind = FaultKind.InternalServerError,
        }));
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("amqp-500", cancellationToken: ct);
        using var attestation = new SymmetricKeyAttestation("amqp-500", keys.PrimaryKey);
        ProvisioningClientOptions options = session.CreateOptions();
        options.RetryPolicy = new ProvisioningRetryPolicy { InitialDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5), MaxRetries = 2 };
        using var client = CreateClient(session, attestation, ProvisioningTransport.Amqp, options);

        var ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: ct));

        Assert.True(ex.IsTransient);
        Assert.Equal(HttpStatusCode.InternalServerError, ex.StatusCode);
        Assert.Equal(500001, ex.ErrorCode);
    }

    [Fact]
    public async Task Register_OverWebSocketsWithAProxy_TunnelsThroughIt()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("amqp-proxied", cancellationToken: ct);
        using var attestation = new SymmetricKeyAttestation("amqp-proxied", keys.PrimaryKey);
        await using var proxy = new Mqtt.TunnelingProxy();
        ProvisioningClientOptions options = session.CreateOptions();
        // A bypass list that would skip localhost must not apply: the test needs the proxy for a loopback host.
        options.Proxy = new WebProxy(proxy.Address) { BypassProxyOnLocal = false };
        using var client = CreateClient(session, attestation, ProvisioningTransport.AmqpWebSockets, options);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal([$"CONNECT {session.Dps.AmqpWebSocketEndpoint!.Authority} HTTP/1.1"], proxy.ConnectLines);
    }

    [Fact]
    public async Task Register_WhenTheWebSocketPathIsNotServed_FailsNonTransientWithTheStatus()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        using var attestation = new SymmetricKeyAttestation("amqp-nowhere", Convert.ToBase64String(new byte[32]));
        ProvisioningClientOptions options = session.CreateOptions();
        options.WebSocketPath = "/elsewhere";
        using var client = CreateClient(session, attestation, ProvisioningTransport.AmqpWebSockets, options);

        var ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: ct));

        Assert.False(ex.IsTransient);
        Assert.Equal(HttpStatusCode.NotFound, ex.StatusCode);
        Assert.Contains("did not accept an AMQP WebSocket", ex.Message, StringComparison.Ordinal);
    }

    private static async Task RegisterTpmAndVerifyAsync(TpmIdentity identity, ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        string registrationId = await identity.GetRegistrationIdAsync(ct);
        await session.Dps.Enrollments.AddTpmAsync(registrationId, await identity.GetEndorsementKeyAsync(ct), cancellationToken: ct);
        using var attestation = new TpmAttestation(identity);
        using var client = CreateClient(session, attestation, transport);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(registrationId, result.RegistrationId);
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
    }

    private static async Task WaitUntilNoConnectionAsync(EmulatorSession session)
    {
        // The server sees the close shortly after the client sent it; bounded in real time, never a timed assertion.
        for (int i = 0; i < 500 && session.Dps.AmqpConnectionCount > 0; i++)
        {
            await Task.Delay(10, TestContext.Current.CancellationToken);
        }

        Assert.Equal(0, session.Dps.AmqpConnectionCount);
    }
}

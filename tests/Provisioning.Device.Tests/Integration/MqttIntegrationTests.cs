using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

using Provisioning.Device.Tests.Fakes;
using Provisioning.Emulator.Enrollments;

namespace Provisioning.Device.Tests.Integration;

/// <summary>
/// The client against the in-process emulator over DPS-over-MQTT, real sockets and TLS, over TCP and WebSockets
/// (dps-protocol.md §5): every attestation MQTT supports ends assigned in one connection with one register and one
/// status request, and the connection is closed with DISCONNECT.
/// </summary>
public sealed class MqttIntegrationTests
{
    public static TheoryData<ProvisioningTransport> Transports => [ProvisioningTransport.Mqtt, ProvisioningTransport.MqttWebSockets];

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_SymmetricKeyIndividual_IsAssignedInOneConnectionAndSignsForItsHub(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("mqtt-sym-1", cancellationToken: ct);
        using var attestation = new SymmetricKeyAttestation("mqtt-sym-1", keys.PrimaryKey);
        using var client = MqttConnectionCounter.CreateClient(session, attestation, transport, out MqttConnectionCounter counter);
        using var _ = counter;

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("mqtt-sym-1", result.DeviceId);
        await AssertOneCleanExchangeAsync(session, counter);
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_SymmetricKeyGroupMember_IsAssignedThroughTheGroup(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair group = await session.Dps.Enrollments.AddSymmetricKeyGroupAsync("mqtt-sym-group", cancellationToken: ct);
        using var attestation = SymmetricKeyAttestation.FromEnrollmentGroup("mqtt-member-1", group.PrimaryKey);
        using var client = MqttConnectionCounter.CreateClient(session, attestation, transport, out MqttConnectionCounter counter);
        using var _ = counter;

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("mqtt-sym-group", result.EnrollmentGroupId);
        await AssertOneCleanExchangeAsync(session, counter);
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_X509Individual_IsAssignedByTheTlsClientCertificate(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        using X509Certificate2 device = X509IntegrationTests.CreateCertificate("CN=mqtt-x509-1", issuer: null, isCa: false);
        await session.Dps.Enrollments.AddX509Async("mqtt-x509-1", X509CertificateLoader.LoadCertificate(device.RawData), cancellationToken: ct);
        using var attestation = new X509Attestation(device);
        using var client = MqttConnectionCounter.CreateClient(session, attestation, transport, out MqttConnectionCounter counter);
        using var _ = counter;

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(device.Thumbprint, result.CertificateInfo?.Sha1Thumbprint, StringComparer.OrdinalIgnoreCase);
        await AssertOneCleanExchangeAsync(session, counter);
        var hubDevice = await session.Dps.HubRegistry.FindAsync(result.AssignedHub!, result.DeviceId!, ct);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(device.RawData)), hubDevice?.Thumbprint);
    }

    /// <remarks>The group is enrolled by its root; the intermediate reaches the emulator only in the TLS handshake.</remarks>
    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_X509GroupMemberUnderIntermediate_SendsTheChainInTheHandshakeAndIsAssigned(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        using X509Certificate2 root = X509IntegrationTests.CreateCertificate("CN=Mqtt Integration Root", issuer: null, isCa: true);
        using X509Certificate2 intermediate = X509IntegrationTests.CreateCertificate("CN=Mqtt Integration Intermediate", root, isCa: true);
        using X509Certificate2 device = X509IntegrationTests.CreateCertificate("CN=mqtt-x509-member", intermediate, isCa: false);
        await session.Dps.Enrollments.AddX509GroupAsync("mqtt-x509-group", X509CertificateLoader.LoadCertificate(root.RawData), cancellationToken: ct);
        using var attestation = new X509Attestation(device, [X509CertificateLoader.LoadCertificate(intermediate.RawData)]);
        using var client = MqttConnectionCounter.CreateClient(session, attestation, transport, out MqttConnectionCounter counter);
        using var _ = counter;

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("mqtt-x509-group", result.EnrollmentGroupId);
        await AssertOneCleanExchangeAsync(session, counter);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_X509GroupMemberWithoutItsIntermediate_IsRefusedAtConnectNotTransient(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        using X509Certificate2 root = X509IntegrationTests.CreateCertificate("CN=Mqtt Integration Root", issuer: null, isCa: true);
        using X509Certificate2 intermediate = X509IntegrationTests.CreateCertificate("CN=Mqtt Integration Intermediate", root, isCa: true);
        using X509Certificate2 device = X509IntegrationTests.CreateCertificate("CN=mqtt-x509-orphan", intermediate, isCa: false);
        await session.Dps.Enrollments.AddX509GroupAsync("mqtt-x509-group", X509CertificateLoader.LoadCertificate(root.RawData), cancellationToken: ct);
        using var attestation = new X509Attestation(device);
        using var client = MqttConnectionCounter.CreateClient(session, attestation, transport, out MqttConnectionCounter counter);
        using var _ = counter;

        var ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: ct));

        Assert.False(ex.IsTransient);
        Assert.Equal(0, counter.Registers);
        Assert.Equal(counter.Connections, counter.Closed);
        await WaitUntilNoConnectionAsync(session);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Register_DisabledEnrollment_ReturnsDisabledNotAnException(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("mqtt-disabled", new EnrollmentSettings { Enabled = false }, ct);
        using var attestation = new SymmetricKeyAttestation("mqtt-disabled", keys.PrimaryKey);
        using var client = MqttConnectionCounter.CreateClient(session, attestation, transport, out MqttConnectionCounter counter);
        using var _ = counter;

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Disabled, result.Status);
        Assert.Null(result.AssignedHub);
        Assert.Null(result.DeviceId);
        await AssertOneCleanExchangeAsync(session, counter);
    }

    [Theory]
    [MemberData(nameof(Transports))]
    public async Task Create_WithTpmOverMqtt_IsRefusedBeforeAnyConnection(ProvisioningTransport transport)
    {
        await using var session = await EmulatorSession.StartAsync();
        using var attestation = new TpmAttestation(new FakeTpmDevice());
        MqttConnectionCounter? counter = null;

        var ex = Assert.Throws<ArgumentException>(() => MqttConnectionCounter.CreateClient(session, attestation, transport, out counter));

        Assert.Contains("TPM attestation is not supported", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Https", ex.Message, StringComparison.Ordinal);
        Assert.Equal(0, counter?.Connections ?? 0);
    }

    /// <summary>
    /// One connection, one register, one status request, and DISCONNECT sent with the connection closed, as the client
    /// counted them and as the emulator saw them (no connection left open, one ended by DISCONNECT).
    /// </summary>
    internal static async Task AssertOneCleanExchangeAsync(EmulatorSession session, MqttConnectionCounter counter)
    {
        Assert.Equal(1, counter.Connections);
        Assert.Equal(1, counter.Registers);
        Assert.Equal(1, counter.StatusRequests);
        Assert.Equal(1, counter.Disconnects);
        Assert.Equal(1, counter.Closed);
        await WaitUntilNoConnectionAsync(session);
        Assert.Equal(1, session.Dps.MqttCleanDisconnectCount);
    }

    /// <summary>The emulator learns of a close shortly after the client: wait for it, with a deadline that only a lingering connection reaches.</summary>
    internal static async Task WaitUntilNoConnectionAsync(EmulatorSession session)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        while (session.Dps.MqttConnectionCount != 0)
        {
            await Task.Delay(10, deadline.Token);
        }
    }
}

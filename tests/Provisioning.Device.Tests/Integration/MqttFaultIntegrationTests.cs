using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Faults;

namespace Provisioning.Device.Tests.Integration;

/// <summary>
/// Every fault the emulator injects on its MQTT endpoint (<see cref="FaultRule.Transport"/> = MQTT), on the register and on
/// the status request, over TCP and WebSockets: the client retries the same request (after a dropped connection, on a
/// new connection) and ends assigned after exactly the faulted requests plus the two it needs anyway.
/// </summary>
public sealed class MqttFaultIntegrationTests
{
    public static TheoryData<FaultKind, ProvisioningTransport> Cases
    {
        get
        {
            var cases = new TheoryData<FaultKind, ProvisioningTransport>();
            foreach (ProvisioningTransport transport in new[] { ProvisioningTransport.Mqtt, ProvisioningTransport.MqttWebSockets })
            {
                foreach (FaultKind kind in new[] { FaultKind.TooManyRequests, FaultKind.InternalServerError, FaultKind.ServiceUnavailable, FaultKind.DropConnection, FaultKind.Delay })
                {
                    cases.Add(kind, transport);
                }
            }

            return cases;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Register_WhenTheMqttEndpointInjectsFaults_RetriesAndEndsAssignedWithBoundedRequests(FaultKind kind, ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        // A held request costs the client its whole request timeout; one per endpoint is enough to prove the retry.
        int faultsPerEndpoint = kind == FaultKind.Delay ? 1 : 2;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("mqtt-faulted", cancellationToken: ct);
        foreach (DpsEndpoint endpoint in new[] { DpsEndpoint.Register, DpsEndpoint.OperationStatus })
        {
            session.Dps.Faults.Add(new FaultRule
            {
                Endpoint = endpoint,
                Transport = DpsTransport.Mqtt,
                Kind = kind,
                MaxFaults = faultsPerEndpoint,
                RetryAfter = TimeSpan.Zero,
                // Longer than the client's request timeout below: a held request times out and is retried.
                Delay = TimeSpan.FromSeconds(30),
            });
        }

        ProvisioningClientOptions options = session.CreateOptions();
        // Long enough that an unfaulted request never times out on a loaded machine, short enough for a fast test.
        options.RequestTimeout = TimeSpan.FromSeconds(kind == FaultKind.Delay ? 1 : 10);
        using var attestation = new SymmetricKeyAttestation("mqtt-faulted", keys.PrimaryKey);
        using var client = MqttConnectionCounter.CreateClient(session, attestation, transport, out MqttConnectionCounter counter, options);
        using var _ = counter;

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(1 + faultsPerEndpoint, counter.Registers);
        Assert.Equal(1 + faultsPerEndpoint, counter.StatusRequests);
        Assert.Equal(counter.Connections, counter.Closed);
        await MqttIntegrationTests.WaitUntilNoConnectionAsync(session);
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
    }

    [Theory]
    [InlineData(ProvisioningTransport.Mqtt)]
    [InlineData(ProvisioningTransport.MqttWebSockets)]
    public async Task Register_When429WithRetryAfterOverMqtt_WaitsAndEndsAssigned(ProvisioningTransport transport)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("mqtt-throttled", cancellationToken: ct);
        session.Dps.Faults.Add(new FaultRule
        {
            Endpoint = DpsEndpoint.Register, Transport = DpsTransport.Mqtt, Kind = FaultKind.TooManyRequests, MaxFaults = 1, RetryAfter = TimeSpan.FromSeconds(1),
        });
        var time = new RecordingDelays();
        ProvisioningClientOptions options = session.CreateOptions();
        options.TimeProvider = time;
        using var attestation = new SymmetricKeyAttestation("mqtt-throttled", keys.PrimaryKey);
        using var client = MqttConnectionCounter.CreateClient(session, attestation, transport, out MqttConnectionCounter counter, options);
        using var _ = counter;

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(2, counter.Registers);
        Assert.Contains(TimeSpan.FromSeconds(1), time.Delays);
    }

    [Fact]
    public async Task Register_WhenOnlyHttpsIsFaulted_MqttIsUntouched()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("mqtt-unfaulted", cancellationToken: ct);
        session.Dps.Faults.Add(new FaultRule { Endpoint = DpsEndpoint.Register, Transport = DpsTransport.Https, Kind = FaultKind.InternalServerError });
        using var attestation = new SymmetricKeyAttestation("mqtt-unfaulted", keys.PrimaryKey);
        using var client = MqttConnectionCounter.CreateClient(session, attestation, ProvisioningTransport.Mqtt, out MqttConnectionCounter counter);
        using var _ = counter;

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        await MqttIntegrationTests.AssertOneCleanExchangeAsync(session, counter);
    }
}

/// <summary>The system clock, recording the due time of every timer the client starts (its waits and deadlines).</summary>
internal sealed class RecordingDelays : TimeProvider
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<TimeSpan> _delays = new();

    public IReadOnlyCollection<TimeSpan> Delays => _delays;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        _delays.Enqueue(dueTime);
        return System.CreateTimer(callback, state, dueTime, period);
    }
}

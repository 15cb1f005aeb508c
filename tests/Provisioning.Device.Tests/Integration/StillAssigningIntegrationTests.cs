using Provisioning.Emulator.Enrollments;

namespace Provisioning.Device.Tests.Integration;

/// <summary>
/// The client's still-assigning path against the emulator's <see cref="Emulator.DpsEmulatorOptions.AssignmentDelay"/>: status
/// polls answer 202 <c>assigning</c> until the delay passes on the emulator's clock, and the client keeps polling.
/// </summary>
public sealed class StillAssigningIntegrationTests
{
    [Fact]
    public async Task Register_WhileTheOperationStaysAssigning_PollsUntilAssigned()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var clock = new OffsetClock();
        await using var session = await EmulatorSession.StartAsync(o =>
        {
            o.TimeProvider = clock;
            o.AssignmentDelay = TimeSpan.FromMinutes(10);
        });
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("still-assigning", cancellationToken: ct);
        using var attestation = new SymmetricKeyAttestation("still-assigning", keys.PrimaryKey);
        using var client = session.CreateClient(attestation, out RequestCounter counter);

        // Two polls see 'assigning'; as the third is sent the emulator's clock passes the delay.
        counter.OnSending = request =>
        {
            if (request.Method == HttpMethod.Get && counter.Gets == 3)
            {
                clock.Offset = TimeSpan.FromMinutes(11);
            }
        };

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(1, counter.Puts);
        Assert.Equal(3, counter.Gets);
    }

    public static TheoryData<ProvisioningTransport> MqttTransports => [ProvisioningTransport.Mqtt, ProvisioningTransport.MqttWebSockets];

    [Theory]
    [MemberData(nameof(MqttTransports))]
    public async Task Register_OverMqtt_WhileTheOperationStaysAssigning_PollsOnTheSameConnectionUntilAssigned(ProvisioningTransport transport)
    {
        // The deadline bounds a client that would stop polling or poll forever; nothing is asserted about time.
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromMinutes(2));
        CancellationToken ct = deadline.Token;
        var clock = new OffsetClock();
        await using var session = await EmulatorSession.StartAsync(o =>
        {
            o.TimeProvider = clock;
            o.AssignmentDelay = TimeSpan.FromMinutes(10);
        });
        SymmetricKeyPair group = await session.Dps.Enrollments.AddSymmetricKeyGroupAsync("still-assigning-mqtt", cancellationToken: ct);
        using var attestation = SymmetricKeyAttestation.FromEnrollmentGroup("still-assigning-mqtt-1", group.PrimaryKey);
        using var client = MqttConnectionCounter.CreateClient(session, attestation, transport, out MqttConnectionCounter counter);
        using var _ = counter;

        // The register and two polls are answered 202 'assigning'; as the third poll is sent the emulator's clock passes the delay.
        counter.OnStatusRequest = number =>
        {
            if (number == 3)
            {
                clock.Offset = TimeSpan.FromMinutes(11);
            }
        };

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("still-assigning-mqtt-1", result.DeviceId);
        Assert.Equal(3, counter.AssigningAnswers);
        Assert.Equal(1, counter.Connections);
        Assert.Equal(1, counter.Registers);
        Assert.Equal(3, counter.StatusRequests);
    }

    /// <summary>Real time plus an offset the test sets (SAS tokens stay valid: the offset stays below their lifetime).</summary>
    private sealed class OffsetClock : TimeProvider
    {
        private long _offsetTicks;

        public TimeSpan Offset
        {
            get => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));
            set => Interlocked.Exchange(ref _offsetTicks, value.Ticks);
        }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Offset;
    }
}

using System.Diagnostics;

using Provisioning.Device.Diagnostics;
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

    public static TheoryData<ProvisioningTransport> AmqpTransports => [ProvisioningTransport.Amqp, ProvisioningTransport.AmqpWebSockets];

    [Theory]
    [MemberData(nameof(AmqpTransports))]
    public async Task Register_OverAmqp_WhileTheOperationStaysAssigning_PollsUntilAssigned(ProvisioningTransport transport)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromMinutes(2));
        CancellationToken ct = deadline.Token;
        var clock = new OffsetClock();
        await using var session = await EmulatorSession.StartAsync(o =>
        {
            o.TimeProvider = clock;
            o.AssignmentDelay = TimeSpan.FromMinutes(10);
        });
        SymmetricKeyPair group = await session.Dps.Enrollments.AddSymmetricKeyGroupAsync("still-assigning-amqp", cancellationToken: ct);
        string id = "still-assigning-amqp-" + (transport == ProvisioningTransport.Amqp ? "tcp" : "ws");
        using var attestation = SymmetricKeyAttestation.FromEnrollmentGroup(id, group.PrimaryKey);

        // The AMQP transport has no seam to count messages: the client's own clock sees each wait before a poll. The first
        // poll after Retry-After 0 goes at once; the second and third wait the polling floor (kept short here). As the wait
        // before the third poll starts, the emulator's clock passes the delay: the register and two polls are answered
        // 'assigning', the third 'assigned'.
        var waits = new PollWaitObserver(number =>
        {
            if (number == 2)
            {
                clock.Offset = TimeSpan.FromMinutes(11);
            }
        });
        ProvisioningClientOptions options = session.CreateOptions();
        options.TimeProvider = waits;
        options.RetryPolicy = new ProvisioningRetryPolicy
        {
            InitialDelay = TimeSpan.FromMilliseconds(10),
            MaxDelay = TimeSpan.FromMilliseconds(50),
            PollingFloor = TimeSpan.FromMilliseconds(20),
            MaxPollingFloor = TimeSpan.FromMilliseconds(40),
        };
        int? attempts = null;
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == ProvisioningDiagnostics.SourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem(ProvisioningDiagnostics.RegistrationIdTag) as string == id)
                {
                    attempts = activity.GetTagItem(ProvisioningDiagnostics.AttemptsTag) as int?;
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        using var client = AmqpIntegrationTests.CreateClient(session, attestation, transport, options);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(id, result.DeviceId);
        Assert.Equal(2, waits.Count);

        // One register and three polls: the client polls again only after an answer that is not final ('assigning').
        Assert.Equal(4, attempts);
    }

    /// <summary>Real time; calls back on each short one-shot timer, which in the client is a wait before a status poll.</summary>
    private sealed class PollWaitObserver(Action<int> onWait) : TimeProvider
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
        {
            if (dueTime > TimeSpan.Zero && dueTime <= TimeSpan.FromSeconds(1) && period == Timeout.InfiniteTimeSpan)
            {
                onWait(Interlocked.Increment(ref _count));
            }

            return base.CreateTimer(callback, state, dueTime, period);
        }
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

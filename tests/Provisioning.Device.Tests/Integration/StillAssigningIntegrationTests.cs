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

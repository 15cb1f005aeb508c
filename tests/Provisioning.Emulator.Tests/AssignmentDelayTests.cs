using System.Net;

using Provisioning.Emulator.Faults;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

/// <summary>
/// <see cref="DpsEmulatorOptions.AssignmentDelay"/> and <see cref="FaultKind.SlowAssignment"/> keep an operation
/// <c>assigning</c>: status polls answer 202 with <c>Retry-After</c> until the delay has passed on the emulator's clock.
/// </summary>
public sealed class AssignmentDelayTests
{
    [Fact]
    public async Task AssignmentDelay_PollsAnswer202AssigningWithRetryAfter_UntilTheDelayHasPassed()
    {
        var clock = new ManualClock();
        await using var dps = await TestDps.StartAsync(o =>
        {
            o.TimeProvider = clock;
            o.AssignmentDelay = TimeSpan.FromSeconds(10);
            o.RetryAfter = TimeSpan.FromSeconds(2);
        });
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("slow-01", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);
        var sas = TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "slow-01");

        using var put = await client.SendAsync(TestDps.Register(dps, "slow-01", sas: sas), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);
        var operationId = (await TestDps.JsonAsync(put)).GetProperty("operationId").GetString()!;

        foreach (var step in new[] { TimeSpan.Zero, TimeSpan.FromSeconds(9) })
        {
            clock.Advance(step);
            using var poll = await client.SendAsync(TestDps.Operation(dps, "slow-01", operationId, sas), TestContext.Current.CancellationToken);
            var body = await TestDps.JsonAsync(poll);
            Assert.Equal(HttpStatusCode.Accepted, poll.StatusCode);
            Assert.Equal("assigning", body.GetProperty("status").GetString());
            Assert.Equal(operationId, body.GetProperty("operationId").GetString());
            Assert.Equal(TimeSpan.FromSeconds(2), poll.Headers.RetryAfter?.Delta);
        }

        clock.Advance(TimeSpan.FromSeconds(1));
        using var done = await client.SendAsync(TestDps.Operation(dps, "slow-01", operationId, sas), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, done.StatusCode);
        Assert.Equal("assigned", (await TestDps.JsonAsync(done)).GetProperty("status").GetString());
    }

    [Fact]
    public async Task SlowAssignmentFault_MakesOnlyTheFaultedRegistrationSlow()
    {
        var clock = new ManualClock();
        await using var dps = await TestDps.StartAsync(o => o.TimeProvider = clock);
        dps.Faults.Add(new FaultRule { Endpoint = DpsEndpoint.Register, Kind = FaultKind.SlowAssignment, Delay = TimeSpan.FromMinutes(1), MaxFaults = 1 });
        using var client = TestDps.Client(dps);

        var statuses = new List<HttpStatusCode>();
        foreach (var id in new[] { "slow-a", "fast-b" })
        {
            var keys = await dps.Enrollments.AddSymmetricKeyAsync(id, cancellationToken: TestContext.Current.CancellationToken);
            var sas = TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, id);
            using var put = await client.SendAsync(TestDps.Register(dps, id, sas: sas), TestContext.Current.CancellationToken);
            var operationId = (await TestDps.JsonAsync(put)).GetProperty("operationId").GetString()!;
            using var poll = await client.SendAsync(TestDps.Operation(dps, id, operationId, sas), TestContext.Current.CancellationToken);
            statuses.Add(poll.StatusCode);
        }

        Assert.Equal([HttpStatusCode.Accepted, HttpStatusCode.OK], statuses);
    }

    [Fact]
    public async Task NegativeAssignmentDelay_IsRefused() =>
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => TestDps.StartAsync(o => o.AssignmentDelay = TimeSpan.FromSeconds(-1)));
}

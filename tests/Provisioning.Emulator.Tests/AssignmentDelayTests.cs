using System.Net;

using Provisioning.Emulator.Faults;
using Provisioning.Emulator.Tests.Service;
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
    public async Task AssignmentDelay_PollBodyCarriesTheAssigningRegistrationState()
    {
        var clock = new ManualClock();
        await using var dps = await TestDps.StartAsync(o =>
        {
            o.TimeProvider = clock;
            o.AssignmentDelay = TimeSpan.FromSeconds(10);
        });
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("slow-body", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);
        var sas = TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "SLOW-BODY");

        // Registered as SLOW-BODY under slow-body: the state names the registration as first registered.
        using var put = await client.SendAsync(TestDps.Register(dps, "SLOW-BODY", sas: sas), TestContext.Current.CancellationToken);
        var operationId = (await TestDps.JsonAsync(put)).GetProperty("operationId").GetString()!;
        using var poll = await client.SendAsync(TestDps.Operation(dps, "SLOW-BODY", operationId, sas), TestContext.Current.CancellationToken);
        var state = (await TestDps.JsonAsync(poll)).GetProperty("registrationState");
        Assert.Equal(HttpStatusCode.Accepted, poll.StatusCode);
        Assert.Equal("SLOW-BODY", state.GetProperty("registrationId").GetString());
        Assert.Equal("assigning", state.GetProperty("status").GetString());
        Assert.False(state.TryGetProperty("assignedHub", out _));
        Assert.False(state.TryGetProperty("deviceId", out _));
    }

    [Fact]
    public async Task AssignmentDelay_TheServiceApiReadsAssigning_UntilTheDelayHasPassed_ThenAssigned()
    {
        var clock = new ManualClock();
        await using var dps = await TestDps.StartAsync(o =>
        {
            o.TimeProvider = clock;
            o.AssignmentDelay = TimeSpan.FromSeconds(30);
        });
        var groupKey = (await dps.Enrollments.AddSymmetricKeyGroupAsync("slow-group", cancellationToken: TestContext.Current.CancellationToken)).PrimaryKey;
        using var client = TestDps.Client(dps);
        using var sdk = new ServiceSdkClient(dps, "2019-03-31");
        var sas = TestSas.ForDevice(TestSas.DeriveDeviceKey(groupKey, "slow-dev"), dps.IdScope, "slow-dev");
        using var put = await client.SendAsync(TestDps.Register(dps, "slow-dev", sas: sas), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);
        var operationId = (await TestDps.JsonAsync(put)).GetProperty("operationId").GetString()!;

        clock.Advance(TimeSpan.FromSeconds(29));
        using (var get = await sdk.SendAsync(HttpMethod.Get, "registrations/slow-dev"))
        {
            var state = await TestDps.JsonAsync(get);
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal("slow-dev", state.GetProperty("registrationId").GetString());
            Assert.Equal("assigning", state.GetProperty("status").GetString());
            Assert.True(state.TryGetProperty("createdDateTimeUtc", out _));
            Assert.True(state.TryGetProperty("lastUpdatedDateTimeUtc", out _));
            Assert.False(string.IsNullOrEmpty(state.GetProperty("etag").GetString()));
            foreach (var notYet in new[] { "assignedHub", "deviceId", "substatus", "payload", "errorCode" })
            {
                Assert.False(state.TryGetProperty(notYet, out _), notYet + " before the assignment");
            }
        }

        var pages = await sdk.QueryAllAsync("registrations/slow-group/query", pageSize: 10);
        Assert.Equal("assigning", Assert.Single(Assert.Single(pages).Items).GetProperty("status").GetString());

        // The device keeps hearing 202 with Retry-After meanwhile, and its status lookup says assigning too.
        using (var poll = await client.SendAsync(TestDps.Operation(dps, "slow-dev", operationId, sas), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Accepted, poll.StatusCode);
            Assert.NotNull(poll.Headers.RetryAfter);
        }

        using (var lookup = await client.SendAsync(TestDps.Request(HttpMethod.Post, $"{dps.IdScope}/registrations/slow-dev?api-version=2019-03-31", "{\"registrationId\":\"slow-dev\"}", sas), TestContext.Current.CancellationToken))
        {
            var result = await TestDps.JsonAsync(lookup);
            Assert.Equal(HttpStatusCode.OK, lookup.StatusCode);
            Assert.Equal("assigning", result.GetProperty("status").GetString());
            Assert.False(result.TryGetProperty("assignedHub", out _));
        }

        string assigningEtag;
        using (var again = await sdk.SendAsync(HttpMethod.Get, "registrations/slow-dev"))
        {
            assigningEtag = (await TestDps.JsonAsync(again)).GetProperty("etag").GetString()!;
        }

        clock.Advance(TimeSpan.FromSeconds(1));
        using (var get = await sdk.SendAsync(HttpMethod.Get, "registrations/slow-dev"))
        {
            var state = await TestDps.JsonAsync(get);
            Assert.Equal("assigned", state.GetProperty("status").GetString());
            Assert.Equal("slow-dev", state.GetProperty("deviceId").GetString());
            Assert.False(string.IsNullOrEmpty(state.GetProperty("assignedHub").GetString()));
            Assert.Equal("initialAssignment", state.GetProperty("substatus").GetString());

            // The state changed with the assignment, so did its etag: an If-Match read during the delay no longer matches.
            Assert.NotEqual(assigningEtag, state.GetProperty("etag").GetString());
            using var stale = await sdk.SendAsync(HttpMethod.Delete, "registrations/slow-dev", ifMatch: assigningEtag);
            await TestDps.AssertErrorAsync(stale, HttpStatusCode.PreconditionFailed, 412001);
            using var delete = await sdk.SendAsync(HttpMethod.Delete, "registrations/slow-dev", ifMatch: state.GetProperty("etag").GetString());
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }
    }

    [Fact]
    public async Task AssignmentDelay_TheEnrollmentCarriesTheAssigningState_AndItsEtagDeletesIt()
    {
        var clock = new ManualClock();
        await using var dps = await TestDps.StartAsync(o =>
        {
            o.TimeProvider = clock;
            o.AssignmentDelay = TimeSpan.FromMinutes(1);
        });
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("slow-ind", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);
        using var sdk = new ServiceSdkClient(dps, "2021-10-01");
        using var put = await client.SendAsync(TestDps.Register(dps, "slow-ind", sas: TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "slow-ind")),
            TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);

        using var enrollment = await sdk.SendAsync(HttpMethod.Get, "enrollments/slow-ind");
        var state = (await TestDps.JsonAsync(enrollment)).GetProperty("registrationState");
        Assert.Equal("assigning", state.GetProperty("status").GetString());
        Assert.False(state.TryGetProperty("assignedHub", out _));

        // DeleteDeviceRegistrationStateAsync(state) sends the etag it read: the assigning one is the current one.
        using var delete = await sdk.SendAsync(HttpMethod.Delete, "registrations/slow-ind", ifMatch: state.GetProperty("etag").GetString());
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
    }

    [Fact]
    public async Task AssignmentDelay_ThePortalShowsTheRegistrationAssigning_ThenAssigned()
    {
        var clock = new ManualClock();
        await using var dps = await TestDps.StartAsync(o =>
        {
            o.TimeProvider = clock;
            o.AssignmentDelay = TimeSpan.FromSeconds(10);
            o.PortalPort = 0;
        });
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("slow-portal", cancellationToken: TestContext.Current.CancellationToken);
        using var device = TestDps.Client(dps);
        using var put = await device.SendAsync(TestDps.Register(dps, "slow-portal", sas: TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "slow-portal")),
            TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);

        using var portal = TestDps.Client(dps.CertificateAuthority.Certificate, dps.PortalUrl!);
        using (var signIn = await portal.GetAsync(dps.PortalUrl, TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        }

        var during = await portal.GetStringAsync(new Uri("/live?region=registrations", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Contains("data-status=\"assigning\"", during, StringComparison.Ordinal);
        Assert.DoesNotContain("hub1.localhost", during, StringComparison.Ordinal);

        clock.Advance(TimeSpan.FromSeconds(10));
        var after = await portal.GetStringAsync(new Uri("/live?region=registrations", UriKind.Relative), TestContext.Current.CancellationToken);
        Assert.Contains("data-status=\"assigned\"", after, StringComparison.Ordinal);
        Assert.Contains("hub1.localhost", after, StringComparison.Ordinal);
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

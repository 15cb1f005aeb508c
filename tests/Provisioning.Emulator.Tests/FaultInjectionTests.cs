using System.Net;

using Provisioning.Emulator.Faults;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

public sealed class FaultInjectionTests
{
    private static async Task<(DpsEmulator Dps, HttpClient Client, string Sas)> StartAsync(Action<DpsEmulatorOptions>? configure = null)
    {
        var dps = await TestDps.StartAsync(configure);
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("f1", cancellationToken: TestContext.Current.CancellationToken);
        return (dps, TestDps.Client(dps), TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "f1"));
    }

    [Fact]
    public async Task Register_WhenFaultIs429AfterOneRequest_SecondAnswers429WithRetryAfter()
    {
        var (dps, client, sas) = await StartAsync(o => o.Faults.Add(new FaultRule
        {
            Endpoint = DpsEndpoint.Register, Kind = FaultKind.TooManyRequests, AfterRequests = 1, RetryAfter = TimeSpan.FromSeconds(7),
        }));
        await using var _ = dps;
        using var __ = client;

        using var first = await client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken);
        using var second = await client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), second.Headers.RetryAfter?.Delta);
        await TestDps.AssertErrorAsync(second, HttpStatusCode.TooManyRequests, 429001);
    }

    [Fact]
    public async Task OperationStatus_WhenFaultIs503_Answers503AndRegisterIsUntouched()
    {
        var (dps, client, sas) = await StartAsync(o => o.Faults.Add(new FaultRule { Endpoint = DpsEndpoint.OperationStatus, Kind = FaultKind.ServiceUnavailable }));
        await using var _ = dps;
        using var __ = client;

        using var put = await client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken);
        var operationId = (await TestDps.JsonAsync(put)).GetProperty("operationId").GetString()!;
        using var get = await client.SendAsync(TestDps.Operation(dps, "f1", operationId, sas), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);
        await TestDps.AssertErrorAsync(get, HttpStatusCode.ServiceUnavailable, 503001);
    }

    [Fact]
    public async Task Register_WhenFaultIs500ForOneRequest_OnlyThatRequestFails()
    {
        var (dps, client, sas) = await StartAsync(o => o.Faults.Add(new FaultRule { Endpoint = DpsEndpoint.Register, Kind = FaultKind.InternalServerError, MaxFaults = 1 }));
        await using var _ = dps;
        using var __ = client;

        using var first = await client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken);
        using var second = await client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(first, HttpStatusCode.InternalServerError, 500001);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
    }

    [Fact]
    public async Task Register_WhenFaultDropsTheConnection_ClientSeesAnIoError()
    {
        var (dps, client, sas) = await StartAsync(o => o.Faults.Add(new FaultRule { Endpoint = DpsEndpoint.Register, Kind = FaultKind.DropConnection, MaxFaults = 1 }));
        await using var _ = dps;
        using var __ = client;

        await Assert.ThrowsAsync<HttpRequestException>(() => client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken));
        using var after = await client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, after.StatusCode);
    }

    [Fact]
    public async Task Register_WhenFaultIsADelay_IsHeldThenServed()
    {
        var time = new ManualClock();
        var (dps, client, sas) = await StartAsync(o =>
        {
            o.TimeProvider = time;
            o.Faults.Add(new FaultRule { Endpoint = DpsEndpoint.Register, Kind = FaultKind.Delay, Delay = TimeSpan.FromMinutes(5) });
        });
        await using var _ = dps;
        using var __ = client;

        var pending = client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken);
        await time.WaitForTimerAsync();
        Assert.False(pending.IsCompleted);
        time.Advance(TimeSpan.FromMinutes(5));
        using var response = await pending;

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task Faults_WithSeededProbability_RepeatTheSameSequence()
    {
        async Task<string> RunAsync()
        {
            var (dps, client, sas) = await StartAsync(o => o.Faults.Add(new FaultRule { Endpoint = DpsEndpoint.Register, Kind = FaultKind.ServiceUnavailable, Probability = 0.5, Seed = 42 }));
            await using var _ = dps;
            using var __ = client;
            var outcomes = new char[20];
            for (var i = 0; i < outcomes.Length; i++)
            {
                using var response = await client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken);
                outcomes[i] = response.StatusCode == HttpStatusCode.Accepted ? 'o' : 'x';
            }

            return new string(outcomes);
        }

        var first = await RunAsync();
        var second = await RunAsync();

        Assert.Equal(first, second);
        Assert.Contains('o', first);
        Assert.Contains('x', first);
    }

    [Fact]
    public async Task Faults_AddedAndClearedAtRuntime_ApplyImmediately()
    {
        var (dps, client, sas) = await StartAsync();
        await using var _ = dps;
        using var __ = client;

        dps.Faults.Add(new FaultRule { Kind = FaultKind.ServiceUnavailable });
        using var faulted = await client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken);
        dps.Faults.Clear();
        using var healthy = await client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, faulted.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, healthy.StatusCode);
    }

    [Fact]
    public async Task Register_OverThePerUnitLimit_Answers429001WithRetryAfter()
    {
        var (dps, client, sas) = await StartAsync(o => o.RegistrationsPerMinute = 2);
        await using var _ = dps;
        using var __ = client;

        using var one = await client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken);
        using var two = await client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken);
        using var three = await client.SendAsync(TestDps.Register(dps, "f1", sas: sas), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, two.StatusCode);
        Assert.NotNull(three.Headers.RetryAfter?.Delta);
        await TestDps.AssertErrorAsync(three, HttpStatusCode.TooManyRequests, 429001);
    }
}

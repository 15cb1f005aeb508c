using Provisioning.Emulator.Faults;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Mqtt;

/// <summary>The emulator's fault injection over MQTT: the same rules, answered on the response topic (dps-protocol.md §5).</summary>
public sealed class MqttFaultTests
{
    private static async Task<(DpsEmulator Dps, MqttTestDevice Device)> StartAsync(FaultRule rule)
    {
        var dps = await TestDps.StartAsync(o => o.Faults.Add(rule));
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-f1", cancellationToken: TestContext.Current.CancellationToken);
        return (dps, await MqttTestDevice.ConnectAsync(dps, "mq-f1", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-f1")));
    }

    [Fact]
    public async Task Register_WhenFaultIs429_AnswersOnTopic429WithLowercaseRetryAfter()
    {
        var (dps, device) = await StartAsync(new FaultRule { Endpoint = DpsEndpoint.Register, Kind = FaultKind.TooManyRequests, RetryAfter = TimeSpan.FromSeconds(7), MaxFaults = 1 });
        await using var _ = dps;
        await using var __ = device;

        var throttled = await device.RegisterAsync();
        var (accepted, _) = await device.RegisterToEndAsync();

        MqttRegistrationTests.AssertError(throttled, 429, 429001);
        Assert.Contains("&retry-after=7", throttled.Topic, StringComparison.Ordinal);
        Assert.Equal(202, accepted.Status);
    }

    [Fact]
    public async Task OperationStatus_WhenFaultIs503_AnswersOnTopic503WithRetryAfter()
    {
        var (dps, device) = await StartAsync(new FaultRule { Endpoint = DpsEndpoint.OperationStatus, Kind = FaultKind.ServiceUnavailable, RetryAfter = TimeSpan.FromSeconds(2) });
        await using var _ = dps;
        await using var __ = device;

        var accepted = await device.RegisterAsync();
        var unavailable = await device.OperationStatusAsync(accepted.Body.GetProperty("operationId").GetString()!);

        Assert.Equal(202, accepted.Status);
        MqttRegistrationTests.AssertError(unavailable, 503, 503001);
        Assert.Equal("2", unavailable.RetryAfter);
    }

    [Fact]
    public async Task Register_WhenFaultIs500_AnswersOnTopic500WithoutRetryAfter()
    {
        var (dps, device) = await StartAsync(new FaultRule { Endpoint = DpsEndpoint.Register, Kind = FaultKind.InternalServerError });
        await using var _ = dps;
        await using var __ = device;

        var failed = await device.RegisterAsync();

        MqttRegistrationTests.AssertError(failed, 500, 500001);
        Assert.Null(failed.RetryAfter);
    }

    [Fact]
    public async Task Register_WhenFaultDropsTheConnection_ClosesItWithoutAnAnswer()
    {
        var (dps, device) = await StartAsync(new FaultRule { Endpoint = DpsEndpoint.Register, Kind = FaultKind.DropConnection });
        await using var _ = dps;
        await using var __ = device;

        await device.PublishAsync($"$dps/registrations/PUT/iotdps-register/?$rid={device.NextRid()}", null);
        await device.WaitDisconnectedAsync();

        Assert.False(device.HasUnreadAnswer);
        Assert.Null(await dps.HubRegistry.FindAsync("hub1.localhost", "mq-f1", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Register_WhenFaultDelays_AnswersNormallyAfterTheDelay()
    {
        var (dps, device) = await StartAsync(new FaultRule { Endpoint = DpsEndpoint.Register, Kind = FaultKind.Delay, Delay = TimeSpan.FromMilliseconds(200) });
        await using var _ = dps;
        await using var __ = device;

        var (accepted, final) = await device.RegisterToEndAsync();

        Assert.Equal(202, accepted.Status);
        Assert.Equal("assigned", final.Body.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Register_WhenFaultTargetsHttpsOnly_MqttIsUntouched()
    {
        var (dps, device) = await StartAsync(new FaultRule { Endpoint = DpsEndpoint.All, Transport = DpsTransport.Https, Kind = FaultKind.InternalServerError });
        await using var _ = dps;
        await using var __ = device;

        var (accepted, _) = await device.RegisterToEndAsync();

        Assert.Equal(202, accepted.Status);
    }

    [Fact]
    public async Task Register_WhenFaultTargetsMqttOnly_HttpsIsUntouched()
    {
        var (dps, device) = await StartAsync(new FaultRule { Endpoint = DpsEndpoint.Register, Transport = DpsTransport.Mqtt, Kind = FaultKind.InternalServerError });
        await using var _ = dps;
        await using var __ = device;
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-f2", cancellationToken: TestContext.Current.CancellationToken);
        using var http = TestDps.Client(dps);

        var overMqtt = await device.RegisterAsync();
        var overHttps = await TestDps.RegisterToEndAsync(http, dps, "mq-f2", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-f2"));

        MqttRegistrationTests.AssertError(overMqtt, 500, 500001);
        Assert.Equal("assigned", overHttps.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Register_WhenThrottledByTheUnitLimit_Answers429WithRetryAfter()
    {
        await using var dps = await TestDps.StartAsync(o => o.RegistrationsPerMinute = 1);
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-f3", cancellationToken: TestContext.Current.CancellationToken);
        await using var device = await MqttTestDevice.ConnectAsync(dps, "mq-f3", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-f3"));

        var first = await device.RegisterAsync();
        var second = await device.RegisterAsync();

        Assert.Equal(202, first.Status);
        MqttRegistrationTests.AssertError(second, 429, 429001);
        Assert.NotNull(second.RetryAfter);
    }
}

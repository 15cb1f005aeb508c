using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Mqtt;

/// <summary>
/// What the emulator tells about DPS-over-MQTT connections, so device tests can check a client closes its connection
/// after registering (dps-protocol.md §5: DISCONNECT, then close): open connections, and those ended with DISCONNECT.
/// </summary>
public sealed class MqttConnectionCountTests
{
    [Fact]
    public async Task ConnectionCount_AnAcceptedDeviceThatDisconnects_IsCountedThenCleanlyEnded()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-count-1", cancellationToken: TestContext.Current.CancellationToken);
        var device = await MqttTestDevice.ConnectAsync(dps, "mq-count-1", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-count-1"));

        await WaitUntilAsync(() => dps.MqttConnectionCount == 1);
        await device.DisposeAsync();
        await WaitUntilAsync(() => dps.MqttConnectionCount == 0);

        Assert.Equal(1, dps.MqttCleanDisconnectCount);
    }

    [Fact]
    public async Task ConnectionCount_ASocketDroppedWithoutDisconnect_EndsTheConnectionButNotCleanly()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-count-2", cancellationToken: TestContext.Current.CancellationToken);
        var tls = await RawMqtt.OpenAsync(dps);
        await tls.WriteAsync(RawMqtt.Connect("mq-count-2", MqttTestDevice.UserName(dps.IdScope, "mq-count-2"), TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-count-2")),
            TestContext.Current.CancellationToken);
        Assert.Equal(0x20, (await RawMqtt.ReadAsync(tls)).Type);

        await WaitUntilAsync(() => dps.MqttConnectionCount == 1);
        await tls.DisposeAsync();
        await WaitUntilAsync(() => dps.MqttConnectionCount == 0);

        Assert.Equal(0, dps.MqttCleanDisconnectCount);
    }

    [Fact]
    public async Task ConnectionCount_ARefusedConnect_IsNeverCounted()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-count-3", cancellationToken: TestContext.Current.CancellationToken);
        await using (await MqttTestDevice.ConnectAsync(dps, "mq-count-3", "SharedAccessSignature sr=x&sig=y&se=1&skn=registration"))
        {
        }

        // The refused one went first on the same server: had it been counted, the count would pass 1 or end below 0.
        await using var accepted = await MqttTestDevice.ConnectAsync(dps, "mq-count-3", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-count-3"));
        await WaitUntilAsync(() => dps.MqttConnectionCount != 0);

        Assert.Equal(1, dps.MqttConnectionCount);
    }

    /// <summary>The server learns of a close shortly after the client: wait for it, with a deadline that only a bug reaches.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(TimeSpan.FromSeconds(30));
        while (!condition())
        {
            await Task.Delay(10, deadline.Token);
        }
    }
}

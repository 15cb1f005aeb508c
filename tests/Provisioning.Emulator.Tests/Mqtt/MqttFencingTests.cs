using MQTTnet;

using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Mqtt;

/// <summary>A device can use only its own DPS topics: the response subscription and the two request topics.</summary>
public sealed class MqttFencingTests
{
    private static async Task<MqttTestDevice> DeviceAsync(DpsEmulator dps, string id, bool subscribe = true)
    {
        var keys = await dps.Enrollments.AddSymmetricKeyAsync(id, cancellationToken: TestContext.Current.CancellationToken);
        return await MqttTestDevice.ConnectAsync(dps, id, TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, id), subscribe: subscribe);
    }

    [Theory]
    [InlineData("#")]
    [InlineData("$dps/#")]
    [InlineData("$dps/registrations/+/#")]
    [InlineData("devices/mq-s1/messages/devicebound/#")]
    public async Task Subscribe_OutsideTheResponseTopics_IsRefusedInTheSuback(string filter)
    {
        await using var dps = await TestDps.StartAsync();
        await using var device = await DeviceAsync(dps, "mq-s1", subscribe: false);

        var suback = await device.SubscribeAsync(filter);

        // MQTT 3.1.1 has a single failure return code, 0x80, which MQTTnet reads as "unspecified error".
        Assert.Equal(MqttClientSubscribeResultCode.UnspecifiedError, suback.Items.Single().ResultCode);
    }

    [Theory]
    [InlineData("devices/mq-s2/messages/events/")]
    [InlineData("$dps/registrations/res/200/?$rid=1")]
    [InlineData("$dps/registrations/PUT/iotdps-register/")]
    [InlineData("$dps/registrations/PUT/iotdps-other/?$rid=1")]
    public async Task Publish_OutsideTheRequestTopics_ClosesTheConnection(string topic)
    {
        await using var dps = await TestDps.StartAsync();
        await using var device = await DeviceAsync(dps, "mq-s2");

        await device.PublishAsync(topic, "{}", MQTTnet.Protocol.MqttQualityOfServiceLevel.AtMostOnce);
        await device.WaitDisconnectedAsync();

        Assert.False(device.IsConnected);
    }

    [Fact]
    public async Task Answers_GoOnlyToTheRequestingDevice()
    {
        await using var dps = await TestDps.StartAsync();
        await using var alice = await DeviceAsync(dps, "mq-alice");
        await using var bob = await DeviceAsync(dps, "mq-bob");

        await alice.RegisterToEndAsync();
        var bobs = await bob.RegisterAsync();

        // Alice's answers were sent before Bob asked: had any reached Bob, it would be his first answer, and its $rid
        // (Alice's own request ids) would fail AnswerAsync's check.
        Assert.Equal(202, bobs.Status);
        Assert.StartsWith("mq-bob.", bobs.RequestId, StringComparison.Ordinal);
    }
}

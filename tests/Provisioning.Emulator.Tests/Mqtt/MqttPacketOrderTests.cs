using System.Text;

using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Mqtt;

/// <summary>
/// The packet order the C# SDK insists on (dps-protocol.md §5): CONNACK (session present 0), SUBACK, the PUBACK of the
/// register publish, and only then the response PUBLISH at QoS 1. Read off the wire with hand-written MQTT 3.1.1 packets.
/// </summary>
public sealed class MqttPacketOrderTests
{
    [Fact]
    public async Task Register_AnswersAfterThePubackAtQos1_InTheOrderOfSection5()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-order", cancellationToken: TestContext.Current.CancellationToken);
        await using var tls = await RawMqtt.OpenAsync(dps);

        await tls.WriteAsync(RawMqtt.Connect("mq-order", MqttTestDevice.UserName(dps.IdScope, "mq-order"), TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-order")), TestContext.Current.CancellationToken);
        var connack = await RawMqtt.ReadAsync(tls);
        await tls.WriteAsync(RawMqtt.Packet(0x82, [0, 1, .. RawMqtt.Str("$dps/registrations/res/#"), 1]), TestContext.Current.CancellationToken);
        var suback = await RawMqtt.ReadAsync(tls);
        await tls.WriteAsync(RawMqtt.Packet(0x32, [.. RawMqtt.Str("$dps/registrations/PUT/iotdps-register/?$rid=42"), 0, 7]), TestContext.Current.CancellationToken);
        var first = await RawMqtt.ReadAsync(tls);
        var second = await RawMqtt.ReadAsync(tls);

        Assert.Equal(0x20, connack.Type);
        Assert.Equal(new byte[] { 0, 0 }, connack.Body); // session present 0, accepted
        Assert.Equal(0x90, suback.Type);
        Assert.Equal(new byte[] { 0, 1, 1 }, suback.Body);
        Assert.Equal(0x40, first.Type); // PUBACK of packet 7 ...
        Assert.Equal(new byte[] { 0, 7 }, first.Body);
        Assert.Equal(0x32, second.Type); // ... then PUBLISH, QoS 1, not retained
        var topicLength = (second.Body[0] << 8) | second.Body[1];
        var topic = Encoding.UTF8.GetString(second.Body, 2, topicLength);
        Assert.StartsWith("$dps/registrations/res/202/?$rid=42&retry-after=", topic, StringComparison.Ordinal);
        Assert.Contains("\"status\":\"assigning\"", Encoding.UTF8.GetString(second.Body.AsSpan(2 + topicLength + 2)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PipelinedRequests_EachAnswerFollowsItsOwnPuback()
    {
        // Answers that need no work (an injected 500) race their PUBACK hardest; two hundred pipelined make a wrong order show.
        await using var dps = await TestDps.StartAsync(o => o.Faults.Add(new Faults.FaultRule { Endpoint = Faults.DpsEndpoint.Register, Kind = Faults.FaultKind.InternalServerError }));
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mq-order", cancellationToken: TestContext.Current.CancellationToken);
        await using var tls = await RawMqtt.OpenAsync(dps);
        await tls.WriteAsync(RawMqtt.Connect("mq-order", MqttTestDevice.UserName(dps.IdScope, "mq-order"), TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-order")), TestContext.Current.CancellationToken);
        Assert.Equal(0x20, (await RawMqtt.ReadAsync(tls)).Type);
        await tls.WriteAsync(RawMqtt.Packet(0x82, [0, 1, .. RawMqtt.Str("$dps/registrations/res/#"), 1]), TestContext.Current.CancellationToken);
        Assert.Equal(0x90, (await RawMqtt.ReadAsync(tls)).Type);
        const int Count = 200;
        var requests = new List<byte>();
        for (var id = 1; id <= Count; id++)
        {
            requests.AddRange(RawMqtt.Packet(0x32, [.. RawMqtt.Str($"$dps/registrations/PUT/iotdps-register/?$rid={id}"), 0, (byte)id]));
        }

        await tls.WriteAsync(requests.ToArray(), TestContext.Current.CancellationToken);
        var acknowledged = new HashSet<int>();
        for (var i = 0; i < 2 * Count; i++)
        {
            var (type, body) = await RawMqtt.ReadAsync(tls);
            if (type == 0x40)
            {
                acknowledged.Add(body[1]);
                continue;
            }

            Assert.Equal(0x32, type);
            var topic = Encoding.UTF8.GetString(body, 2, (body[0] << 8) | body[1]);
            var rid = int.Parse(topic[(topic.IndexOf("$rid=", StringComparison.Ordinal) + 5)..].Split('&')[0], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(acknowledged.Contains(rid), $"the answer to request {rid} came before its PUBACK");
            await tls.WriteAsync(RawMqtt.Packet(0x40, [body[2 + ((body[0] << 8) | body[1])], body[3 + ((body[0] << 8) | body[1])]]), TestContext.Current.CancellationToken);
        }

        Assert.Equal(Count, acknowledged.Count);
    }
}

using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
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
        await using var tls = await OpenAsync(dps);

        await tls.WriteAsync(Connect("mq-order", MqttTestDevice.UserName(dps.IdScope, "mq-order"), TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-order")), TestContext.Current.CancellationToken);
        var connack = await ReadAsync(tls);
        await tls.WriteAsync(Packet(0x82, [0, 1, .. Str("$dps/registrations/res/#"), 1]), TestContext.Current.CancellationToken);
        var suback = await ReadAsync(tls);
        await tls.WriteAsync(Packet(0x32, [.. Str("$dps/registrations/PUT/iotdps-register/?$rid=42"), 0, 7]), TestContext.Current.CancellationToken);
        var first = await ReadAsync(tls);
        var second = await ReadAsync(tls);

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
        await using var tls = await OpenAsync(dps);
        await tls.WriteAsync(Connect("mq-order", MqttTestDevice.UserName(dps.IdScope, "mq-order"), TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mq-order")), TestContext.Current.CancellationToken);
        Assert.Equal(0x20, (await ReadAsync(tls)).Type);
        await tls.WriteAsync(Packet(0x82, [0, 1, .. Str("$dps/registrations/res/#"), 1]), TestContext.Current.CancellationToken);
        Assert.Equal(0x90, (await ReadAsync(tls)).Type);
        const int Count = 200;
        var requests = new List<byte>();
        for (var id = 1; id <= Count; id++)
        {
            requests.AddRange(Packet(0x32, [.. Str($"$dps/registrations/PUT/iotdps-register/?$rid={id}"), 0, (byte)id]));
        }

        await tls.WriteAsync(requests.ToArray(), TestContext.Current.CancellationToken);
        var acknowledged = new HashSet<int>();
        for (var i = 0; i < 2 * Count; i++)
        {
            var (type, body) = await ReadAsync(tls);
            if (type == 0x40)
            {
                acknowledged.Add(body[1]);
                continue;
            }

            Assert.Equal(0x32, type);
            var topic = Encoding.UTF8.GetString(body, 2, (body[0] << 8) | body[1]);
            var rid = int.Parse(topic[(topic.IndexOf("$rid=", StringComparison.Ordinal) + 5)..].Split('&')[0], System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(acknowledged.Contains(rid), $"the answer to request {rid} came before its PUBACK");
            await tls.WriteAsync(Packet(0x40, [body[2 + ((body[0] << 8) | body[1])], body[3 + ((body[0] << 8) | body[1])]]), TestContext.Current.CancellationToken);
        }

        Assert.Equal(Count, acknowledged.Count);
    }

    private static async Task<SslStream> OpenAsync(DpsEmulator dps)
    {
        var port = int.Parse(dps.MqttEndpoint!.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        var tcp = new TcpClient();
        await tcp.ConnectAsync("localhost", port, TestContext.Current.CancellationToken);
        var root = dps.CertificateAuthority.Certificate;
        var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(root);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return certificate is not null && chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        });
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, TestContext.Current.CancellationToken);
        return tls;
    }

    private static byte[] Connect(string clientId, string userName, string password) =>
        Packet(0x10, [.. Str("MQTT"), 4, 0xC2, 0, 0, .. Str(clientId), .. Str(userName), .. Str(password)]);

    private static byte[] Str(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        return [(byte)(bytes.Length >> 8), (byte)bytes.Length, .. bytes];
    }

    private static byte[] Packet(byte header, byte[] body)
    {
        var length = new List<byte>();
        var remaining = body.Length;
        do
        {
            var digit = (byte)(remaining % 128);
            remaining /= 128;
            length.Add(remaining > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (remaining > 0);

        return [header, .. length, .. body];
    }

    private static async Task<(int Type, byte[] Body)> ReadAsync(Stream stream)
    {
        var header = await ReadExactlyAsync(stream, 1);
        int length = 0, shift = 0;
        byte digit;
        do
        {
            digit = (await ReadExactlyAsync(stream, 1))[0];
            length |= (digit & 0x7F) << shift;
            shift += 7;
        }
        while ((digit & 0x80) != 0);

        return (header[0], await ReadExactlyAsync(stream, length));
    }

    private static async Task<byte[]> ReadExactlyAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await stream.ReadExactlyAsync(buffer, timeout.Token);
        return buffer;
    }
}

using System.Net;
using System.Net.Sockets;
using System.Text;

using Provisioning.Emulator.Hubs;
using Provisioning.Emulator.Tests.Mqtt;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Hostile;

/// <summary>
/// Hostile clients cost little: an unauthenticated MQTT client announcing a huge packet is dropped at its header, on the
/// DPS MQTT port and on the hub ports; a socket that never completes TLS is dropped on every port. Every test is bounded
/// in time (a read that waits at most 30 s for the close) and in bytes (a few KB sent).
/// </summary>
public sealed class HostileClientTests
{
    private static readonly TimeSpan CloseBound = TimeSpan.FromSeconds(30);

    /// <summary>PUBLISH (0x30) or CONNECT (0x10) announcing 268,435,455 bytes, the MQTT maximum: FF FF FF 7F.</summary>
    public static TheoryData<byte> HugeHeaders => [0x10, 0x30, 0x82];

    [Theory]
    [MemberData(nameof(HugeHeaders))]
    public async Task DpsMqtt_UnauthenticatedClientAnnouncing256MB_IsDroppedAtTheHeader(byte header)
    {
        await using var dps = await TestDps.StartAsync();
        var (tcp, tls) = await TestTls.OpenAsync(dps, Port(dps.MqttEndpoint!));
        using var _ = tcp;
        await using var __ = tls;
        await tls.WriteAsync(new byte[] { header, 0xFF, 0xFF, 0xFF, 0x7F }, TestContext.Current.CancellationToken);
        await tls.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Equal(0, await TestTls.ReadUntilClosedAsync(tls, CloseBound));
    }

    [Theory]
    [MemberData(nameof(HugeHeaders))]
    public async Task Hub_UnauthenticatedClientAnnouncing256MB_IsDroppedAtTheHeader(byte header)
    {
        await using var dps = await TestDps.StartAsync();
        var hub = dps.IotHubs[0];
        var (tcp, tls) = await TestTls.OpenAsync(dps, hub.EndPoint.Port, hub.HubHostName);
        using var _ = tcp;
        await using var __ = tls;
        await tls.WriteAsync(new byte[] { header, 0xFF, 0xFF, 0xFF, 0x7F }, TestContext.Current.CancellationToken);
        await tls.FlushAsync(TestContext.Current.CancellationToken);

        Assert.Equal(0, await TestTls.ReadUntilClosedAsync(tls, CloseBound));
    }

    [Fact]
    public async Task DpsMqtt_ConnectOfAFewKB_IsAnswered_ButOneOverTheCapIsDropped()
    {
        await using var dps = await TestDps.StartAsync();
        var userName = $"{dps.IdScope}/registrations/dev-1/api-version=2019-03-31&ClientVersion=" + new string('x', 1500);

        // A CONNECT of ~3 KB (long user name and password) reaches authentication: a refusing CONNACK, not a dropped socket.
        await using (var tls = await RawMqtt.OpenAsync(dps))
        {
            await tls.WriteAsync(RawMqtt.Connect("dev-1", userName, "SharedAccessSignature " + new string('y', 1500)), TestContext.Current.CancellationToken);
            var (type, body) = await RawMqtt.ReadAsync(tls);
            Assert.Equal(0x20, type);
            Assert.NotEqual(0, body[1]);
        }

        // Over 4 KB before authentication: dropped without an answer.
        await using (var tls = await RawMqtt.OpenAsync(dps))
        {
            var connect = RawMqtt.Connect("dev-1", userName, "SharedAccessSignature " + new string('y', 3000));
            Assert.True(connect.Length > DpsEmulatorOptions.MaxMqttPacketBytesBeforeAuthentication);
            await tls.WriteAsync(connect, TestContext.Current.CancellationToken);
            Assert.Equal(0, await TestTls.ReadUntilClosedAsync(tls, CloseBound));
        }
    }

    [Fact]
    public async Task SocketsThatNeverCompleteTls_AreDropped_OnEveryPort()
    {
        await using var dps = await TestDps.StartAsync(o =>
        {
            o.TlsHandshakeTimeout = TimeSpan.FromSeconds(1);
            o.HubWebSockets = true;
        });
        var ports = new Dictionary<string, int>
        {
            ["https"] = dps.GlobalEndpoint.Port,
            ["dps mqtt"] = Port(dps.MqttEndpoint!),
            ["dps websocket"] = dps.WebSocketEndpoint!.Port,
            ["hub mqtt"] = dps.IotHubs[0].EndPoint.Port,
            ["hub websocket"] = Port(dps.Hubs[0].WebSocketAddress!),
        };

        var closed = await Task.WhenAll(ports.Select(async p =>
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(IPAddress.Loopback, p.Value, TestContext.Current.CancellationToken);
            var stream = tcp.GetStream();

            // A ClientHello that never finishes: the record header announces 512 bytes, 3 come.
            await stream.WriteAsync(new byte[] { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01 }, TestContext.Current.CancellationToken);
            return (p.Key, Read: await TestTls.ReadUntilClosedAsync(stream, CloseBound));
        }));

        Assert.All(closed, c => Assert.True(c.Read >= 0, $"{c.Key}: the socket stayed open"));
    }

    private static int Port(string hostPort) => int.Parse(hostPort[(hostPort.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);
}

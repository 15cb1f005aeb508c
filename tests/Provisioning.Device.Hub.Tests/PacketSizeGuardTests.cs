using System.Net;
using System.Net.Security;
using System.Net.Sockets;

using Provisioning.Device.Hub.Mqtt;

namespace Provisioning.Device.Hub.Tests;

/// <summary>What the hub sends is size-checked before MQTTnet allocates for it (MQTT 3.1.1 §2.2.3: a Remaining Length may
/// announce 256 MB).</summary>
public sealed class PacketSizeGuardTests : IDisposable
{
    private const string HubName = "guard-hub.azure-devices.net";
    private readonly TestPki _pki = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("CONNACK announcing the largest MQTT length", "20FFFFFF7F")]
    [InlineData("PUBLISH one byte over 256 KiB after a CONNACK", "20020000" + "30818010")]
    [InlineData("a five-byte length", "30FFFFFFFF01")]
    public async Task Read_WhenTheHubAnnouncesAnOversizedPacket_FailsTransientBeforeTheBody(string name, string hex)
    {
        _ = name;
        using var serverCertificate = _pki.IssueServer(HubName);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var server = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync(Ct);
            await using var tls = new SslStream(client.GetStream());
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = serverCertificate }, Ct);
            await tls.WriteAsync(Convert.FromHexString(hex), Ct);
            await tls.FlushAsync(Ct);

            // Then the end of the stream: a client without the guard reads these bytes and sees the end, not an error.
            await tls.ShutdownAsync();
        }, Ct);

        var options = new DeviceClientOptions();
        options.HubAddresses[HubName] = $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        options.TrustedRootCertificates.Add(_pki.Root);
        using var authentication = HubAuthentication.FromSymmetricKey(new byte[32]);
        var provider = new HubStreamProvider(HubName, authentication, options);

        HubException refusal;
        await using (var stream = await provider.ConnectAsync(new DnsEndPoint(HubName, 8883), Ct))
        {
            var buffer = new byte[64];
            refusal = await Assert.ThrowsAsync<HubException>(async () =>
            {
                while (await stream.ReadAsync(buffer, Ct) > 0)
                {
                    // Reads on until the guard refuses (the bytes may arrive in pieces) or the stream ends.
                }
            });
        }

        Assert.True(refusal.IsTransient);
        Assert.Contains("refused", refusal.Message, StringComparison.Ordinal);
        await server;
    }

    [Fact]
    public async Task Read_WhenPacketsAreWithinTheLimit_PassesEveryByte()
    {
        using var serverCertificate = _pki.IssueServer(HubName);
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var sent = Convert.FromHexString("20020000" + "9003000101" + "D000");
        var server = Task.Run(async () =>
        {
            using var client = await listener.AcceptTcpClientAsync(Ct);
            await using var tls = new SslStream(client.GetStream());
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = serverCertificate }, Ct);
            await tls.WriteAsync(sent, Ct);
        }, Ct);

        var options = new DeviceClientOptions();
        options.HubAddresses[HubName] = $"127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}";
        options.TrustedRootCertificates.Add(_pki.Root);
        using var authentication = HubAuthentication.FromSymmetricKey(new byte[32]);
        await using var stream = await new HubStreamProvider(HubName, authentication, options).ConnectAsync(new DnsEndPoint(HubName, 8883), Ct);
        await server;

        var received = new MemoryStream();
        await stream.CopyToAsync(received, Ct);
        Assert.Equal(sent, received.ToArray());
    }

    public void Dispose() => _pki.Dispose();
}

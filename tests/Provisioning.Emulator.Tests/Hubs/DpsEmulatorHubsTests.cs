using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using MQTTnet;
using MQTTnet.Formatter;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Hubs;

/// <summary>The emulator serves its linked hubs (issue 6): TLS from its CA naming each hub, the DPS registry behind them, the
/// addresses in <c>emulator.json</c>, and nothing left listening after dispose.</summary>
public sealed class DpsEmulatorHubsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Start_EachLinkedHub_ServesTlsWithACertificateFromTheEmulatorCaNamingTheHub()
    {
        await using var dps = await TestDps.StartAsync(o =>
        {
            o.Hubs.Add(new LinkedHub("alpha.hubs.localhost"));
            o.Hubs.Add(new LinkedHub("beta.hubs.localhost"));
        });

        Assert.Equal(2, dps.IotHubs.Count);
        foreach (var linked in dps.Hubs)
        {
            var hub = dps.GetHub(linked.HostName);
            Assert.Equal(linked.MqttAddress, hub.MqttAddress);
            Assert.Equal(hub.MqttAddress, dps.HubAddresses[linked.HostName]);
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(hub.EndPoint, Ct);
            SslPolicyErrors? errors = null;
            await using var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, policyErrors) =>
            {
                // Validated as a device would: name check by SslStream, chain against the emulator CA only.
                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(dps.CertificateAuthority.Certificate);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                errors = policyErrors & ~SslPolicyErrors.RemoteCertificateChainErrors;
                return chain.Build(X509CertificateLoader.LoadCertificate(certificate!.GetRawCertData())) && errors == SslPolicyErrors.None;
            });

            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = linked.HostName }, Ct);

            Assert.Equal(SslPolicyErrors.None, errors);
        }
    }

    [Fact]
    public async Task Registration_LandsInTheHubRegistry_AndTheHubAcceptsTheDeviceKey()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("hub-wired-01", cancellationToken: Ct);
        using var http = TestDps.Client(dps);
        var final = await TestDps.RegisterToEndAsync(http, dps, "hub-wired-01", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "hub-wired-01"));
        var hubName = final.GetProperty("registrationState").GetProperty("assignedHub").GetString()!;
        var hub = dps.GetHub(hubName);

        using var mqtt = new MqttClientFactory().CreateMqttClient();
        var result = await mqtt.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer(hub.EndPoint.Address.ToString(), hub.EndPoint.Port)
            .WithClientId("hub-wired-01")
            .WithCredentials($"{hubName}/hub-wired-01/?api-version=2020-09-30",
                TestSas.Create(Convert.FromBase64String(keys.PrimaryKey), $"{hubName}/devices/hub-wired-01", DateTimeOffset.UtcNow.AddHours(1), keyName: null))
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithTlsOptions(o => o.UseTls().WithTargetHost(hubName).WithTrustChain([dps.CertificateAuthority.Certificate]))
            .Build(), Ct);
        Assert.Equal(MqttClientConnectResultCode.Success, result.ResultCode);
        await mqtt.PublishStringAsync("devices/hub-wired-01/messages/events/", "{\"t\":1}", MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: Ct);

        var received = await hub.ReadTelemetryAsync("hub-wired-01", Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal("{\"t\":1}", System.Text.Encoding.UTF8.GetString(received.Body.Span));
        Assert.True(hub.IsConnected("hub-wired-01"));
    }

    [Fact]
    public async Task Start_WithDataFolder_EmulatorJsonListsEachHubsMqttAndWebSocketAddress()
    {
        var data = TestDps.TempDirectory();
        try
        {
            await using var dps = await TestDps.StartAsync(o =>
            {
                o.DataDirectory = data;
                o.HubWebSockets = true;
            });

            using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(data, DpsEmulator.InfoFileName), Ct));
            var hub = doc.RootElement.GetProperty("hubs")[0];
            Assert.Equal(dps.IotHubs[0].MqttAddress, hub.GetProperty("mqttAddress").GetString());
            Assert.Equal(dps.HubWebSocketAddresses["hub1.localhost"], hub.GetProperty("webSocketAddress").GetString());
            Assert.True(IPEndPoint.TryParse(hub.GetProperty("mqttAddress").GetString()!, out var endPoint) && endPoint.Port != 0);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Dispose_StopsTheHubs()
    {
        var dps = await TestDps.StartAsync();
        var endPoint = dps.IotHubs[0].EndPoint;

        await dps.DisposeAsync();

        Assert.False(dps.IotHubs[0].IsRunning);
        using var tcp = new TcpClient();
        await Assert.ThrowsAsync<SocketException>(async () => await tcp.ConnectAsync(endPoint, Ct));
    }

    [Fact]
    public async Task GetHub_UnknownHostName_ThrowsArgumentException()
    {
        await using var dps = await TestDps.StartAsync();

        Assert.Throws<ArgumentException>("hostName", () => dps.GetHub("nowhere.localhost"));
    }

    [Fact]
    public async Task Start_PresetMqttAddressThatIsNotAnIpEndPoint_ThrowsArgumentException()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => TestDps.StartAsync(o => o.Hubs.Add(new LinkedHub("bad.localhost") { MqttAddress = "bad.localhost:8883" })));
    }
}

using System.Net;
using System.Text.Json;

using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

public sealed class PersistenceTests
{
    [Fact]
    public async Task Restart_WithTheSameDataFolder_KeepsCaScopeKeysEnrollmentsRegistrationsAndHubDevices()
    {
        var data = TestDps.TempDirectory();
        try
        {
            string idScope, connectionString, operationId, caThumbprint, sas;
            await using (var first = await TestDps.StartAsync(o => o.DataDirectory = data))
            {
                idScope = first.IdScope;
                connectionString = first.ServiceConnectionString;
                caThumbprint = first.CertificateAuthority.Certificate.Thumbprint;
                var keys = await first.Enrollments.AddSymmetricKeyAsync("p1", cancellationToken: TestContext.Current.CancellationToken);
                sas = TestSas.ForDevice(keys.PrimaryKey, first.IdScope, "p1");
                using var client = TestDps.Client(first);
                using var put = await client.SendAsync(TestDps.Register(first, "p1", sas: sas), TestContext.Current.CancellationToken);
                Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);
                operationId = (await TestDps.JsonAsync(put)).GetProperty("operationId").GetString()!;
            }

            await using var second = await TestDps.StartAsync(o => o.DataDirectory = data);
            Assert.Equal(idScope, second.IdScope);
            Assert.Equal(caThumbprint, second.CertificateAuthority.Certificate.Thumbprint);
            Assert.Equal(connectionString.Split(";SharedAccessKey=")[1], second.ServiceConnectionString.Split(";SharedAccessKey=")[1]);
            using var client2 = TestDps.Client(second);

            using var get = await client2.SendAsync(TestDps.Operation(second, "p1", operationId, sas), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
            Assert.Equal("assigned", (await TestDps.JsonAsync(get)).GetProperty("status").GetString());
            Assert.NotNull(await second.HubRegistry.FindAsync("hub1.localhost", "p1", TestContext.Current.CancellationToken));

            var again = await TestDps.RegisterToEndAsync(client2, second, "p1", sas);
            Assert.Equal("assigned", again.GetProperty("status").GetString());
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Start_WithDataFolder_WritesEmulatorJson()
    {
        var data = TestDps.TempDirectory();
        try
        {
            await using var dps = await TestDps.StartAsync(o =>
            {
                o.DataDirectory = data;
                o.Hubs.Add(new LinkedHub("hub1.localhost") { MqttAddress = "127.0.0.1:0" });
                o.Hubs.Add(new LinkedHub("hub2.localhost"));
            });

            using var doc = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(data, "emulator.json"), TestContext.Current.CancellationToken));
            var root = doc.RootElement;
            Assert.Equal(dps.GlobalEndpoint.ToString(), root.GetProperty("globalEndpoint").GetString());
            Assert.Equal(dps.IdScope, root.GetProperty("idScope").GetString());
            Assert.Contains("SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=", root.GetProperty("serviceConnectionString").GetString(), StringComparison.Ordinal);
            var caPath = root.GetProperty("caCertificate").GetString()!;
            Assert.True(File.Exists(caPath));
            Assert.Contains("BEGIN CERTIFICATE", await File.ReadAllTextAsync(caPath, TestContext.Current.CancellationToken), StringComparison.Ordinal);
            var hubs = root.GetProperty("hubs");
            Assert.Equal(2, hubs.GetArrayLength());
            Assert.Equal(dps.GetHub("hub1.localhost").MqttAddress, hubs[0].GetProperty("mqttAddress").GetString());
            Assert.NotEqual("127.0.0.1:0", hubs[0].GetProperty("mqttAddress").GetString());
            Assert.Equal(dps.GetHub("hub2.localhost").MqttAddress, hubs[1].GetProperty("mqttAddress").GetString());
            Assert.Equal("hub2.localhost", hubs[1].GetProperty("hostName").GetString());
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}

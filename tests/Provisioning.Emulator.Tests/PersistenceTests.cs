using System.Net;
using System.Text.Json;

using Microsoft.Data.Sqlite;

using Provisioning.Emulator.Storage;
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

    [Fact]
    public async Task Start_WithACorruptDatabaseFile_ThrowsIOExceptionNamingItAndLeavesItClosed()
    {
        var data = TestDps.TempDirectory();
        try
        {
            var path = Path.Combine(data, "emulator.db");
            await File.WriteAllBytesAsync(path, Enumerable.Repeat((byte)0x5A, 8192).ToArray(), TestContext.Current.CancellationToken);

            var thrown = await Assert.ThrowsAsync<IOException>(() => TestDps.StartAsync(o => o.DataDirectory = data));

            Assert.Contains(path, thrown.Message, StringComparison.Ordinal);
            Assert.IsType<SqliteException>(thrown.InnerException);
            AssertNotOpen(path);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Open_WithARowThatIsNotItsKindsJson_ThrowsIOExceptionAndLeavesTheFileClosed()
    {
        var data = TestDps.TempDirectory();
        try
        {
            var path = Path.Combine(data, "emulator.db");
            await using (var store = await EmulatorStore.OpenAsync(path, TestContext.Current.CancellationToken))
            {
                await store.GetOrAddMetaAsync("idScope", () => "0ne00000001", TestContext.Current.CancellationToken);
            }

            await using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
            {
                await connection.OpenAsync(TestContext.Current.CancellationToken);
                using var insert = connection.CreateCommand();
                insert.CommandText = "INSERT INTO items (kind, id, json) VALUES ('registration', 'R1', X'7B7B')";
                await insert.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
            }

            var thrown = await Assert.ThrowsAsync<IOException>(() => EmulatorStore.OpenAsync(path, TestContext.Current.CancellationToken));

            Assert.Contains(path, thrown.Message, StringComparison.Ordinal);
            Assert.IsType<JsonException>(thrown.InnerException, exactMatch: false);
            AssertNotOpen(path);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    /// <summary>No descriptor of this process still points at the file (Linux exposes them under /proc/self/fd).</summary>
    private static void AssertNotOpen(string path)
    {
        if (!Directory.Exists("/proc/self/fd"))
        {
            Assert.Skip("Open file descriptors are only listed on Linux.");
        }

        var open = new List<string>();
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && target.StartsWith(path, StringComparison.Ordinal))
                {
                    open.Add(target);
                }
            }
            catch (IOException)
            {
                // The descriptor closed while we looked: it is not the database's.
            }
        }

        Assert.Empty(open);
    }
}

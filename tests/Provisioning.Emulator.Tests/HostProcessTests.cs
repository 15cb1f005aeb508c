using System.Diagnostics;
using System.Net;
using System.Text.Json;

using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

/// <summary>The runnable host as a real process: it serves, and a kill -9 loses nothing it acknowledged.</summary>
public sealed class HostProcessTests
{
    [Fact]
    public async Task Host_KilledAfterAcknowledgingARegistration_RestartsWithItAndStopsCleanlyOnSigint()
    {
        var data = TestDps.TempDirectory();
        var ct = TestContext.Current.CancellationToken;
        try
        {
            string operationId, sas;
            using (var host = StartHost(data))
            {
                try
                {
                    using var info = await WaitForInfoAsync(data, host);
                    var root = info.RootElement;
                    var endpoint = new Uri(root.GetProperty("globalEndpoint").GetString()!);
                    var idScope = root.GetProperty("idScope").GetString()!;
                    using var ca = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(root.GetProperty("caCertificate").GetString()!);
                    using var client = TestDps.Client(ca, endpoint);
                    var key = Convert.ToBase64String(new byte[32]);
                    using (var put = await client.SendAsync(TestDps.Request(HttpMethod.Put, "enrollments/killed?api-version=2021-10-01",
                        $"{{\"registrationId\":\"killed\",\"attestation\":{{\"type\":\"symmetricKey\",\"symmetricKey\":{{\"primaryKey\":\"{key}\",\"secondaryKey\":\"{key}\"}}}}}}",
                        ServiceSas.FromConnectionString(root.GetProperty("serviceConnectionString").GetString()!)), ct))
                    {
                        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
                    }

                    sas = TestSas.ForDevice(key, idScope, "killed");
                    using var register = await client.SendAsync(
                        TestDps.Request(HttpMethod.Put, $"{idScope}/registrations/killed/register?api-version=2019-03-31", "{\"registrationId\":\"killed\"}", sas), ct);
                    Assert.Equal(HttpStatusCode.Accepted, register.StatusCode);
                    operationId = (await TestDps.JsonAsync(register)).GetProperty("operationId").GetString()!;
                }
                finally
                {
                    host.Kill(entireProcessTree: true);
                    await host.WaitForExitAsync(ct);
                }
            }

            await using (var reopened = await TestDps.StartAsync(o => o.DataDirectory = data))
            {
                using var client = TestDps.Client(reopened);
                using var get = await client.SendAsync(TestDps.Operation(reopened, "killed", operationId, sas), ct);
                Assert.Equal(HttpStatusCode.OK, get.StatusCode);
                Assert.Equal("assigned", (await TestDps.JsonAsync(get)).GetProperty("status").GetString());
                Assert.NotNull(await reopened.HubRegistry.FindAsync("hub1.localhost", "killed", ct));
            }

            File.Delete(Path.Combine(data, "emulator.json"));
            using var again = StartHost(data);
            using (await WaitForInfoAsync(data, again))
            {
            }

            using var interrupt = Process.Start("kill", ["-INT", again.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
            await interrupt.WaitForExitAsync(ct);
            await again.WaitForExitAsync(ct).WaitAsync(TimeSpan.FromSeconds(30), ct);
            Assert.Equal(0, again.ExitCode);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Host_RunsWithoutDynamicPgo_SoTrickledTrafficDoesNotPayASecondRecompilation()
    {
        // The host's own runtime configuration (what `dotnet exec Provisioning.Emulator.dll` and `dotnet run` read).
        var path = Path.Combine(AppContext.BaseDirectory, "Provisioning.Emulator.runtimeconfig.json");
        using var config = JsonDocument.Parse(await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken));
        var properties = config.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");
        Assert.True(properties.TryGetProperty("System.Runtime.TieredPGO", out var pgo), "the host's runtimeconfig.json has no System.Runtime.TieredPGO");
        Assert.Equal(JsonValueKind.False, pgo.ValueKind);
    }

    private static Process StartHost(string data)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Provisioning.Emulator.dll");
        return Process.Start(new ProcessStartInfo("dotnet", ["exec", dll, "--data", data, "--port", "0", "--retry-after", "0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
    }

    private static async Task<JsonDocument> WaitForInfoAsync(string data, Process host)
    {
        var path = Path.Combine(data, "emulator.json");
        var waited = Stopwatch.StartNew();
        while (true)
        {
            if (File.Exists(path))
            {
                try
                {
                    return JsonDocument.Parse(await File.ReadAllTextAsync(path, TestContext.Current.CancellationToken));
                }
                catch (JsonException)
                {
                    // Caught while the host is still writing it: read again.
                }
            }

            if (host.HasExited)
            {
                Assert.Fail("the host exited: " + await host.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken));
            }

            Assert.True(waited.Elapsed < TimeSpan.FromSeconds(60), "the host did not write emulator.json within 60 s");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }
}

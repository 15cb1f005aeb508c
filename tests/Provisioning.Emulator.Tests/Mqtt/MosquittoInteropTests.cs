using System.Text.Json;

using Provisioning.Emulator.Tests.Support;
using Provisioning.Testing;

namespace Provisioning.Emulator.Tests.Mqtt;

/// <summary>
/// An independent check of the MQTT endpoint with a stock client, Debian's mosquitto-clients: <c>mosquitto_rr</c> connects
/// (MQTT 3.1.1, TLS trusting the emulator CA PEM, client id = registration id, the DPS user name, a SAS computed here),
/// subscribes to the response topic, publishes one request at QoS 1 and prints the answer. One connection per request,
/// one after the other, so two connections with the same client id never take each other over (a mosquitto_sub beside a
/// mosquitto_pub would). mosquitto_rr refuses wildcard response topics, so each call subscribes to the exact topic the
/// answer must have: with retry-after 0, <c>res/202/?$rid=1&amp;retry-after=0</c>, then <c>res/200/?$rid=2</c>; any other
/// answer makes it time out and the test fail.
/// </summary>
[Trait("Category", "Interop")]
public sealed class MosquittoInteropTests
{
    private const string Tool = "mosquitto_rr";

    [Fact]
    public async Task SymmetricKeyRegistration_WithMosquittoRr_EndsAssigned()
    {
        RequireOrSkip();
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("mosq-01", cancellationToken: TestContext.Current.CancellationToken);
        var sas = TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mosq-01");
        var caFile = Path.Combine(TestDps.TempDirectory(), "ca.pem");
        await File.WriteAllTextAsync(caFile, dps.CertificateAuthority.Certificate.ExportCertificatePem(), TestContext.Current.CancellationToken);

        var (acceptedTopic, accepted) = await RequestAsync(dps, caFile, sas, "$dps/registrations/PUT/iotdps-register/?$rid=1", """{"registrationId":"mosq-01"}""",
            "$dps/registrations/res/202/?$rid=1&retry-after=0");
        var operationId = accepted.GetProperty("operationId").GetString()!;
        var (finalTopic, final) = await RequestAsync(dps, caFile, sas,
            $"$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId={Uri.EscapeDataString(operationId)}", """{"registrationId":"mosq-01"}""",
            "$dps/registrations/res/200/?$rid=2");

        Assert.Equal("$dps/registrations/res/202/?$rid=1&retry-after=0", acceptedTopic);
        Assert.Equal("assigning", accepted.GetProperty("status").GetString());
        Assert.Equal("$dps/registrations/res/200/?$rid=2", finalTopic);
        Assert.Equal("assigned", final.GetProperty("status").GetString());
        Assert.Equal("hub1.localhost", final.GetProperty("registrationState").GetProperty("assignedHub").GetString());
    }

    [Fact]
    public async Task Connect_WithMosquittoRrAndAForgedSas_IsRefused()
    {
        RequireOrSkip();
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddSymmetricKeyAsync("mosq-02", cancellationToken: TestContext.Current.CancellationToken);
        var forged = TestSas.ForDevice(Convert.ToBase64String(new byte[32]), dps.IdScope, "mosq-02");
        var caFile = Path.Combine(TestDps.TempDirectory(), "ca.pem");
        await File.WriteAllTextAsync(caFile, dps.CertificateAuthority.Certificate.ExportCertificatePem(), TestContext.Current.CancellationToken);

        var result = await RunAsync(dps, caFile, "mosq-02", forged, "$dps/registrations/PUT/iotdps-register/?$rid=1", "", "$dps/registrations/res/202/?$rid=1&retry-after=0", "-d");

        Assert.NotEqual(0, result.ExitCode);
        // -d prints the packets: CONNACK return code 5, "not authorized" (dps-protocol.md §5).
        Assert.Contains("received CONNACK (5)", result.StandardError + result.StandardOutput, StringComparison.Ordinal);
    }

    private static async Task<(string Topic, JsonElement Body)> RequestAsync(DpsEmulator dps, string caFile, string sas, string topic, string body, string responseTopic)
    {
        var result = await RunAsync(dps, caFile, "mosq-01", sas, topic, body, responseTopic);
        Assert.True(result.ExitCode == 0, $"{Tool} exited {result.ExitCode}: {result.StandardError}");

        // -F '%t %p': the response topic, a space, the payload.
        var line = result.StandardOutput.Trim();
        var space = line.IndexOf(' ', StringComparison.Ordinal);
        using var json = JsonDocument.Parse(line[(space + 1)..]);
        return (line[..space], json.RootElement.Clone());
    }

    private static Task<ProcessResult> RunAsync(DpsEmulator dps, string caFile, string registrationId, string sas, string topic, string body, string responseTopic, params string[] extra)
    {
        var port = dps.MqttEndpoint!.Split(':')[1];
        return ProcessRunner.RunAsync(Tool,
        [
            "-V", "mqttv311", "-h", "localhost", "-p", port, "--cafile", caFile,
            "-i", registrationId, "-u", MqttTestDevice.UserName(dps.IdScope, registrationId), "-P", sas,
            "-q", "1", "-W", "20",
            "-e", responseTopic, "-t", topic, "-m", body, "-F", "%t %p", .. extra,
        ], timeout: TimeSpan.FromSeconds(60), cancellationToken: TestContext.Current.CancellationToken);
    }

    /// <summary>Skips without mosquitto-clients, unless CI (<c>PROVISIONING_REQUIRE_SWTPM=1</c>) demands the interop tools.</summary>
    private static void RequireOrSkip()
    {
        if (ProcessRunner.IsOnPath(Tool))
        {
            return;
        }

        var reason = $"{Tool} is not installed (apt-get install mosquitto-clients); this test checks the MQTT endpoint with a stock client.";
        if (Swtpm.IsRequired)
        {
            Assert.Fail($"{Swtpm.RequireVariable}=1 but {reason}");
        }

        Assert.Skip(reason);
    }
}

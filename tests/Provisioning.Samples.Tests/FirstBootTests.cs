using Provisioning.Testing;

namespace Provisioning.Samples.Tests;

/// <summary>FirstBoot run as a person runs it: a process, a home folder of its own, the embedded emulator.</summary>
public sealed class FirstBootTests : IDisposable
{
    private readonly string _home = SampleProcess.NewHome();

    [Theory]
    [InlineData("symmetric")]
    [InlineData("x509")]
    public async Task FirstBoot_WithEachAttestation_EndsAssignedWithTelemetry_ThenBootsFromTheCache(string attestation)
    {
        var first = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--attestation", attestation, "--json"]);

        AssertAssigned(first, attestation, "dps");
        Assert.Contains("200 OK", first.Output, StringComparison.Ordinal);

        var second = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--attestation", attestation, "--json"]);

        AssertAssigned(second, attestation, "cache");
        Assert.Equal(first.Text("assignedHub"), second.Text("assignedHub"));
        Assert.Equal(first.Text("deviceId"), second.Text("deviceId"));
        Assert.Contains("registration cache", second.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("symmetric", "mqtt")]
    [InlineData("x509", "mqtt")]
    [InlineData("symmetric", "mqtt-ws")]
    [InlineData("x509", "mqtt-ws")]
    public async Task FirstBoot_OverMqttAndMqttOverWebSockets_EndsAssignedWithTelemetry(string attestation, string transport)
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--attestation", attestation, "--transport", transport, "--json"]);

        AssertAssigned(run, attestation, "dps", transport);
        Assert.Contains("$dps/registrations/res/202", run.Output, StringComparison.Ordinal);
        Assert.Equal("hub-record", run.Text("telemetryEvidence"));
    }

    [Theory]
    [InlineData("tpm", "amqp")]
    [InlineData("symmetric", "amqp")]
    [InlineData("x509", "amqp")]
    [InlineData("tpm", "amqp-ws")]
    [InlineData("symmetric", "amqp-ws")]
    public async Task FirstBoot_OverAmqpAndAmqpOverWebSockets_EndsAssignedWithTelemetry(string attestation, string transport)
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--attestation", attestation, "--transport", transport, "--json"]);

        AssertAssigned(run, attestation, "dps", transport);
        Assert.Contains("AMQP receiver link", run.Output, StringComparison.Ordinal);
        if (attestation == "tpm")
        {
            Assert.Contains("SASL TPM", run.Output, StringComparison.Ordinal);
        }

        Assert.Equal("hub-record", run.Text("telemetryEvidence"));
    }

    [Fact]
    public async Task FirstBoot_WithNoArguments_RunsTheTpmHandshakeOnASoftwareTpmInTheHomeFolder()
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--json"]);

        AssertAssigned(run, "tpm", "dps");
        Assert.Contains("Endorsement Key: AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S", run.Output, StringComparison.Ordinal);
        Assert.Contains("401 Unauthorized", run.Output, StringComparison.Ordinal);
        Assert.Contains("Key activation", run.Output, StringComparison.Ordinal);
        Assert.Matches(@"202 Accepted: status 'assigning', operation id \S+", run.Output);
        Assert.Contains("200 OK", run.Output, StringComparison.Ordinal);
        var tpmState = Path.Combine(_home, ".provisioning-device", "firstboot", "tpm");
        Assert.True(Directory.Exists(tpmState), run.ToString());
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.Combine(_home, ".provisioning-device", "firstboot")));
        }
    }

    [Fact]
    public async Task FirstBoot_SecondRun_BootsFromTheCache_AndReprovisionGoesBackToDps()
    {
        var first = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--json"]);
        var second = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--json"]);
        var third = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--reprovision", "--json"]);

        AssertAssigned(first, "tpm", "dps");
        AssertAssigned(second, "tpm", "cache");
        AssertAssigned(third, "tpm", "dps");
        Assert.Equal(first.Text("registrationId"), third.Text("registrationId"));
        Assert.DoesNotContain("401 Unauthorized", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FirstBoot_WhenTheHubRefusesTheCachedIdentity_GoesBackToDps()
    {
        var first = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--attestation", "symmetric", "--json"]);
        AssertAssigned(first, "symmetric", "dps");

        // The cache now names the other hub, where this device is unknown: its CONNECT is refused.
        var cache = Path.Combine(_home, ".provisioning-device", "firstboot", "emulator", "symmetric-registration.json");
        var entry = System.Text.Json.Nodes.JsonNode.Parse(await File.ReadAllTextAsync(cache, TestContext.Current.CancellationToken))!;
        entry["assignedHub"] = first.Text("assignedHub") == "hub1.localhost" ? "hub2.localhost" : "hub1.localhost";
        await File.WriteAllTextAsync(cache, entry.ToJsonString(), TestContext.Current.CancellationToken);

        var second = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--attestation", "symmetric", "--json"]);

        AssertAssigned(second, "symmetric", "dps");
        Assert.Equal(first.Text("assignedHub"), second.Text("assignedHub"));
        Assert.Contains("The hub refused the cached identity", second.Output, StringComparison.Ordinal);
    }

    [Fact]
    [Trait("Category", "Interop")]
    public async Task FirstBoot_OnSwtpm_EndsAssignedWithTelemetry_ThenBootsFromTheCache()
    {
        Swtpm.RequireOrSkip();
        await using var swtpm = await SwtpmInstance.StartNewAsync(cancellationToken: TestContext.Current.CancellationToken);

        var first = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--tpm", swtpm.TransportSpec, "--json"]);
        var second = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--tpm", swtpm.TransportSpec, "--json"]);

        AssertAssigned(first, "tpm", "dps");
        AssertAssigned(second, "tpm", "cache");
        Assert.Contains($"TPM {swtpm.TransportSpec}", first.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("mqtt")]
    [InlineData("mqtt-ws")]
    public async Task FirstBoot_TpmOverMqtt_IsRefusedUpFrontWithTheReason(string transport)
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--transport", transport, "--json"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Equal("error", run.Text("status"));
        Assert.Contains("does not support TPM over MQTT", run.Text("error"), StringComparison.Ordinal);
        Assert.False(Directory.Exists(Path.Combine(_home, ".provisioning-device")), "nothing may be created before the refusal");
    }

    [Fact]
    public async Task FirstBoot_WhenItFails_EndsWithOneErrorLineAndTheJsonReport_NoStackTrace()
    {
        var missing = Path.Combine(_home, "no-such-device.pfx");

        var run = await SampleProcess.RunAsync(
            SampleProcess.FirstBootDll, _home,
            ["--global-endpoint", "global.azure-devices-provisioning.net", "--id-scope", "0ne00000001", "--attestation", "x509", "--certificate", missing, "--json"]);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("error", run.Text("status"));
        Assert.Equal("x509", run.Text("attestation"));
        Assert.Contains("does not exist", run.Text("error"), StringComparison.Ordinal);
        Assert.False(run.Json.GetProperty("telemetryDelivered").GetBoolean());
        Assert.Single(run.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.DoesNotContain("   at ", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FirstBoot_WithAnUnknownOption_ExitsTwoWithTheProblem()
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--attestation", "psk", "--json"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains("--attestation must be tpm, symmetric or x509", run.Text("error"), StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_home, recursive: true);

    internal static void AssertAssigned(SampleRun run, string attestation, string source, string transport = "https")
    {
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("assigned", run.Text("status"));
        Assert.Equal(attestation, run.Text("attestation"));
        Assert.Equal(transport, run.Text("transport"));
        Assert.Equal(source, run.Text("source"));
        Assert.True(run.Json.GetProperty("telemetryDelivered").GetBoolean(), run.ToString());
        Assert.Matches(@"^hub[12]\.localhost$", run.Text("assignedHub"));
        Assert.False(string.IsNullOrEmpty(run.Text("deviceId")));
    }
}

using System.Text.Json;

namespace Provisioning.Samples.Tests;

/// <summary>FirstBoot against the emulator host run as a separate process, as the README's "Run the emulator on its own".</summary>
public sealed class FirstBootStandaloneEmulatorTests(StandaloneEmulatorProcess emulator) : IClassFixture<StandaloneEmulatorProcess>, IDisposable
{
    private readonly string _home = SampleProcess.NewHome();

    [Fact]
    public async Task Readme_RunTheEmulatorOnItsOwn_FirstBootCommandWorksAsWritten()
    {
        var arguments = StandaloneEmulatorProcess.ReadmeCommand("samples/FirstBoot")
            .Select(a => a.Replace(StandaloneEmulatorProcess.ReadmeDataDirectory, emulator.DataDirectory, StringComparison.Ordinal));

        var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, [.. arguments, "--json"]);

        FirstBootTests.AssertAssigned(run, "symmetric", "dps");
        Assert.Equal("puback", run.Text("telemetryEvidence"));
    }

    [Theory]
    [InlineData("symmetric", "https")]
    [InlineData("x509", "mqtt-ws")]
    [InlineData("symmetric", "amqp")]
    public async Task FirstBoot_WithEmulatorFileAndEnroll_EnrollsThroughTheServiceApi_EndsAssignedWithTelemetryAcknowledged(string attestation, string transport)
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home,
            ["--emulator", emulator.InfoFile, "--enroll", "--attestation", attestation, "--transport", transport, "--json"]);

        FirstBootTests.AssertAssigned(run, attestation, "dps", transport);
        Assert.Contains("Enrolled through the emulator's service API", run.Output, StringComparison.Ordinal);
        // The hub is in the emulator's process: delivery rests on the hub's PUBACK, and the run says so.
        Assert.Equal("puback", run.Text("telemetryEvidence"));
        Assert.Contains("acknowledged by the hub (PUBACK)", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FirstBoot_WithGlobalEndpointTrustedCaAndHubAddresses_ReachesTheHubsOfAnEmulatorRunOnItsOwn()
    {
        // Enrolled by a first run; the second is given everything by hand, as for any DPS whose hubs need an address map.
        var enrolled = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--emulator", emulator.InfoFile, "--enroll", "--attestation", "symmetric", "--json"]);
        FirstBootTests.AssertAssigned(enrolled, "symmetric", "dps");
        var key = await File.ReadAllTextAsync(Path.Combine(_home, ".provisioning-device", "firstboot", "symmetric.key"), TestContext.Current.CancellationToken);
        using var info = JsonDocument.Parse(await File.ReadAllTextAsync(emulator.InfoFile, TestContext.Current.CancellationToken));
        var root = info.RootElement;
        List<string> arguments =
        [
            "--global-endpoint", root.GetProperty("globalEndpoint").GetString()!, "--id-scope", root.GetProperty("idScope").GetString()!,
            "--trusted-ca", root.GetProperty("caCertificate").GetString()!,
            "--attestation", "symmetric", "--registration-id", "firstboot-symmetric", "--symmetric-key", key.Trim(), "--reprovision", "--json",
        ];
        foreach (var hub in root.GetProperty("hubs").EnumerateArray())
        {
            arguments.AddRange(["--hub-address", $"{hub.GetProperty("hostName").GetString()}={hub.GetProperty("mqttAddress").GetString()}"]);
        }

        var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, arguments);

        FirstBootTests.AssertAssigned(run, "symmetric", "dps");
        Assert.Equal(enrolled.Text("assignedHub"), run.Text("assignedHub"));
        Assert.Equal("puback", run.Text("telemetryEvidence"));
    }

    [Theory]
    [InlineData("--enroll needs --emulator", "--enroll", "--attestation", "symmetric")]
    [InlineData("--hub-address takes <hub host name>=<host:port>", "--hub-address", "hub1.localhost")]
    [InlineData("--hub-address is for a DPS run elsewhere", "--hub-address", "hub1.localhost=127.0.0.1:8883")]
    [InlineData("--emulator gives the endpoint", "--emulator", "emulator.json", "--id-scope", "0ne00000001")]
    [InlineData("needs --registration-id", "--emulator", "emulator.json", "--attestation", "symmetric")]
    public async Task FirstBoot_WithStandaloneOptionsMisused_ExitsTwoWithTheProblem(string problem, params string[] arguments)
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, [.. arguments, "--json"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(problem, run.Text("error"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FirstBoot_WithAMissingEmulatorFile_SaysWhereItComesFrom()
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--emulator", Path.Combine(_home, "emulator.json"), "--enroll", "--attestation", "symmetric", "--json"]);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("the emulator host writes <data>/emulator.json", run.Text("error"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task FirstBoot_WhenDpsRefusesTheDevice_SaysWhatFailedAndNeverRetrying()
    {
        // Not enrolled: DPS refuses it (401), which is not transient, so nothing is retried and the output must not say so.
        var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home,
            ["--emulator", emulator.InfoFile, "--attestation", "symmetric", "--registration-id", "never-enrolled-11", "--symmetric-key", Convert.ToBase64String(new byte[32]), "--json"]);

        Assert.Equal(1, run.ExitCode);
        Assert.Equal("error", run.Text("status"));
        Assert.Contains("401", run.Text("error"), StringComparison.Ordinal);
        Assert.DoesNotContain("retrying", run.Output, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("retry", run.Error, StringComparison.OrdinalIgnoreCase);
    }

    public void Dispose() => Directory.Delete(_home, recursive: true);
}

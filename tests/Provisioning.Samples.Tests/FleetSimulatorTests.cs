namespace Provisioning.Samples.Tests;

/// <summary>FleetSimulator run as a process: its JSON line is the contract.</summary>
public sealed class FleetSimulatorTests : IDisposable
{
    private readonly string _home = SampleProcess.NewHome();

    [Fact]
    public async Task Fleet_Of200DevicesOver3Hubs_LosesNone_AndUsesEveryHub()
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FleetSimulatorDll, _home, ["--devices", "200", "--hubs", "3", "--json"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        var json = run.Json;
        Assert.Equal(200, json.GetProperty("devices").GetInt32());
        Assert.Equal(200, json.GetProperty("assigned").GetInt32());
        Assert.Equal(0, json.GetProperty("failed").GetInt32());
        var hubs = json.GetProperty("hubs").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetInt32());
        Assert.Equal(3, hubs.Count);
        Assert.Equal(200, hubs.Values.Sum());
        Assert.All(hubs.Values, count => Assert.True(count > 0));
        Assert.True(json.GetProperty("p50Ms").GetDouble() <= json.GetProperty("p99Ms").GetDouble());
        Assert.True(json.GetProperty("registrationsPerSecond").GetDouble() > 0);
    }

    [Fact]
    public async Task Fleet_WithCustomAllocation_IsPlacedByTheInProcessWebhook()
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FleetSimulatorDll, _home, ["--devices", "30", "--hubs", "3", "--allocation", "custom", "--json"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(30, run.Json.GetProperty("webhookCalls").GetInt32());

        // The webhook answers round-robin, so the hubs get equal shares; hashing would not.
        Assert.All(run.Json.GetProperty("hubs").EnumerateObject(), hub => Assert.Equal(10, hub.Value.GetInt32()));
    }

    [Fact]
    public async Task Fleet_WithStaticAllocation_GoesToOneHub()
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FleetSimulatorDll, _home, ["--devices", "20", "--hubs", "3", "--allocation", "static", "--json"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        var hub = Assert.Single(run.Json.GetProperty("hubs").EnumerateObject());
        Assert.Equal(20, hub.Value.GetInt32());
    }

    [Fact]
    public async Task Fleet_UnderInjectedFaults_RetriesAndLosesNone()
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FleetSimulatorDll, _home, ["--devices", "100", "--hubs", "2", "--faults", "0.3", "--json"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(0, run.Json.GetProperty("failed").GetInt32());
        Assert.True(run.Json.GetProperty("retries").GetInt64() > 0, run.ToString());
    }

    [Fact]
    public async Task Fleet_WithAFifthOfRequestsFailing_LosesNoneDuplicatesNone_AndSendsFewExtraRequests()
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FleetSimulatorDll, _home, ["--devices", "200", "--hubs", "2", "--faults", "0.2", "--json"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        var json = run.Json;
        Assert.Equal(200, json.GetProperty("assigned").GetInt32());
        Assert.Equal(0, json.GetProperty("lost").GetInt32());
        Assert.Equal(0, json.GetProperty("duplicates").GetInt32());
        // A fifth of the requests fail, so 1.25 is the floor (each answered request costs 1 ÷ 0.8); retries of a retry are fine,
        // a storm is not.
        var amplification = json.GetProperty("requestAmplification").GetDouble();
        Assert.InRange(amplification, 1.1, 1.3);
        Assert.True(json.GetProperty("failedRequests").GetInt64() > 0, run.ToString());
        Assert.Contains("request amplification", run.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Fleet_OverMqtt_LosesNone()
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FleetSimulatorDll, _home, ["--devices", "50", "--hubs", "2", "--transport", "mqtt", "--json"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("mqtt", run.Json.GetProperty("transport").GetString());
        Assert.Equal(50, run.Json.GetProperty("assigned").GetInt32());
        Assert.Equal(0, run.Json.GetProperty("failed").GetInt32());
    }

    [Theory]
    [InlineData("symmetric", 50)]
    [InlineData("tpm", 4)]
    public async Task Fleet_OverAmqp_LosesNone(string attestation, int devices)
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FleetSimulatorDll, _home,
            ["--devices", devices.ToString(System.Globalization.CultureInfo.InvariantCulture), "--hubs", "2", "--attestation", attestation, "--transport", "amqp", "--faults", "0.1", "--json"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("amqp", run.Json.GetProperty("transport").GetString());
        Assert.Equal(devices, run.Json.GetProperty("assigned").GetInt32());
        Assert.Equal(0, run.Json.GetProperty("failed").GetInt32());
    }

    [Fact]
    public async Task Fleet_WithTpm_GivesEachDeviceItsOwnTpm()
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FleetSimulatorDll, _home, ["--devices", "4", "--hubs", "2", "--attestation", "tpm", "--json"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal(4, run.Json.GetProperty("assigned").GetInt32());
        Assert.Equal("tpm", run.Json.GetProperty("attestation").GetString());
    }

    [Fact]
    public async Task Fleet_WhenNotATerminal_DrawsNoProgressBar()
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FleetSimulatorDll, _home, ["--devices", "5", "--hubs", "1"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.DoesNotContain('\r', run.Output);
        Assert.Contains("registrations/s", run.Output, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_home, recursive: true);
}

using System.Text.Json;

namespace Provisioning.Samples.Tests;

/// <summary>
/// samples/DeviceOnly, the small-device first boot, run as its own process (its JIT build: the native build's command and
/// figures are in tests/Provisioning.Device.Benchmarks/README.md, "Small devices") against the emulator host run on its own.
/// FirstBoot enrolls the symmetric-key device through the service API; DeviceOnly then boots with only the credentials.
/// </summary>
public sealed class DeviceOnlyTests(StandaloneEmulatorProcess emulator) : IClassFixture<StandaloneEmulatorProcess>, IDisposable
{
    private readonly string _home = SampleProcess.NewHome();

    [Theory]
    [InlineData("https")]
    [InlineData("mqtt")]
    public async Task DeviceOnly_WithTheEmulatorFile_ProvisionsConnectsAndSendsOneAcknowledgedMessage(string transport)
    {
        var key = await EnrollAsync();

        var run = await SampleProcess.RunAsync(SampleProcess.DeviceOnlyDll, _home,
            ["--emulator", emulator.InfoFile, "--registration-id", "firstboot-symmetric", "--symmetric-key", key, "--transport", transport, "--stats"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Matches($@"assigned to hub\d\.localhost as firstboot-symmetric over {transport}\n", run.Output);
        Assert.Contains("telemetry acknowledged by the hub", run.Output, StringComparison.Ordinal);
        Assert.Matches(@"peak RSS \d+ kB; managed allocations \d+ KiB", run.Output);
    }

    [Fact]
    public async Task DeviceOnly_WithAWrongKey_FailsWithTheServiceRefusal()
    {
        _ = await EnrollAsync();

        var run = await SampleProcess.RunAsync(SampleProcess.DeviceOnlyDll, _home,
            ["--emulator", emulator.InfoFile, "--registration-id", "firstboot-symmetric", "--symmetric-key", Convert.ToBase64String(new byte[32])]);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.StartsWith("error: ", run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("telemetry", run.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--transport", "amqp")]
    [InlineData("--bogus", "x")]
    [InlineData("--registration-id", null)]
    public async Task DeviceOnly_WithABadArgument_ExitsTwoWithTheUsage(string option, string? value)
    {
        var run = await SampleProcess.RunAsync(SampleProcess.DeviceOnlyDll, _home,
            value is null ? ["--emulator", emulator.InfoFile, option] : ["--emulator", emulator.InfoFile, option, value]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.StartsWith("error: ", run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DeviceOnly_RuntimeConfig_TurnsOffTheTransportsItDoesNotUse()
    {
        // The switches reach the JIT run through the runtimeconfig, and the native build through the trimmer: the same file.
        var config = Path.ChangeExtension(SampleProcess.DeviceOnlyDll, ".runtimeconfig.json");
        using var document = JsonDocument.Parse(await File.ReadAllTextAsync(config, TestContext.Current.CancellationToken));
        var properties = document.RootElement.GetProperty("runtimeOptions").GetProperty("configProperties");

        foreach (var name in new[] { "Provisioning.Device.Amqp.IsSupported", "Provisioning.Device.WebSockets.IsSupported", "Provisioning.Device.Hub.WebSockets.IsSupported" })
        {
            Assert.True(properties.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.False, $"{name} is not false in {config}");
        }

        Assert.False(properties.TryGetProperty("Provisioning.Device.Https.IsSupported", out _), "HTTPS stays unless -p:DpsTransport=mqtt");
        Assert.False(properties.TryGetProperty("Provisioning.Device.Mqtt.IsSupported", out _), "MQTT stays unless -p:DpsTransport=https");
    }

    public void Dispose() => Directory.Delete(_home, recursive: true);

    /// <summary>FirstBoot enrolls its symmetric-key device through the emulator's service API and keeps the key in HOME.</summary>
    private async Task<string> EnrollAsync()
    {
        var enrolled = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--emulator", emulator.InfoFile, "--enroll", "--attestation", "symmetric", "--json"]);
        FirstBootTests.AssertAssigned(enrolled, "symmetric", "dps");
        var key = await File.ReadAllTextAsync(Path.Combine(_home, ".provisioning-device", "firstboot", "symmetric.key"), TestContext.Current.CancellationToken);
        return key.Trim();
    }
}

using System.Text.Json;
using Provisioning.Emulator;

namespace Provisioning.Samples.Tests;

/// <summary>samples/WorkerDevice, the Worker Service, run as its own process against the in-process emulator: its
/// appsettings.json, overridden from the command line as an operator would, provisions and sends telemetry.</summary>
public sealed class WorkerDeviceTests : IAsyncLifetime
{
    private readonly string _home = SampleProcess.NewHome();
    private DpsEmulator _dps = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        var options = new DpsEmulatorOptions { RetryAfter = TimeSpan.Zero };
        options.Hubs.Add(new LinkedHub("hub1.worker.localhost"));
        _dps = await DpsEmulator.StartAsync(options, Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _dps.DisposeAsync();
        Directory.Delete(_home, recursive: true);
    }

    [Fact]
    public async Task WorkerDevice_ProvisionsFromConfiguration_SendsTelemetry_Healthy_ThenBootsFromTheCache()
    {
        var keys = await _dps.Enrollments.AddSymmetricKeyAsync("worker-01", cancellationToken: Ct);
        var keyFile = Path.Combine(_home, "device.key");
        await File.WriteAllTextAsync(keyFile, keys.PrimaryKey, Ct);
        var caFile = Path.Combine(_home, "ca.pem");
        await File.WriteAllTextAsync(caFile, _dps.CertificateAuthority.CertificatePem, Ct);
        List<string> arguments =
        [
            $"--DeviceProvisioning:GlobalEndpoint={_dps.GlobalEndpoint}",
            $"--DeviceProvisioning:IdScope={_dps.IdScope}",
            "--DeviceProvisioning:Attestation:Type=SymmetricKey",
            "--DeviceProvisioning:Attestation:RegistrationId=worker-01",
            $"--DeviceProvisioning:Attestation:SymmetricKeyPath={keyFile}",
            $"--DeviceProvisioning:TrustedRootCertificatesPath={caFile}",
            $"--DeviceProvisioning:RegistrationCachePath={Path.Combine(_home, "registration.json")}",
            "--Telemetry:Count=2",
            "--Telemetry:Interval=00:00:00.100",
            "--Telemetry:ConsoleExporter=true",
        ];
        foreach (var (host, address) in _dps.HubAddresses)
        {
            arguments.Add($"--DeviceProvisioning:HubAddresses:{host}={address}");
        }

        var first = await SampleProcess.RunAsync(SampleProcess.WorkerDeviceDll, _home, arguments);

        var summary = Summary(first);
        Assert.Equal("sent", summary.GetProperty("status").GetString());
        Assert.Equal("hub1.worker.localhost", summary.GetProperty("assignedHub").GetString());
        Assert.Equal("worker-01", summary.GetProperty("deviceId").GetString());
        Assert.Equal("dps", summary.GetProperty("source").GetString());
        Assert.Equal(2, summary.GetProperty("messages").GetInt32());
        Assert.Equal("Healthy", summary.GetProperty("health").GetString());
        Assert.Equal(0, first.ExitCode);
        var hub = _dps.GetHub("hub1.worker.localhost");
        for (var sequence = 1; sequence <= 2; sequence++)
        {
            var received = await hub.ReadTelemetryAsync("worker-01", Ct);
            Assert.Contains($"\"sequence\":{sequence}", System.Text.Encoding.UTF8.GetString(received.Body.Span), StringComparison.Ordinal);
        }

        // OpenTelemetry's console exporter printed the library's instruments when the host stopped.
        Assert.Contains("provisioning.registrations", first.Output, StringComparison.Ordinal);
        Assert.Contains("iothub.messages.acknowledged", first.Output, StringComparison.Ordinal);

        var second = await SampleProcess.RunAsync(SampleProcess.WorkerDeviceDll, _home, arguments);
        Assert.Equal("cache", Summary(second).GetProperty("source").GetString());
        Assert.Equal(0, second.ExitCode);
    }

    [Fact]
    public async Task WorkerDevice_WithAMissingIdScope_StopsAtStart_NamingTheSetting()
    {
        var run = await SampleProcess.RunAsync(SampleProcess.WorkerDeviceDll, _home,
            ["--DeviceProvisioning:IdScope=", "--DeviceProvisioning:Attestation:Type=SymmetricKey", "--Telemetry:Count=1"]);

        Assert.NotEqual(0, run.ExitCode);
        Assert.Contains("IdScope is required", run.Output + run.Error, StringComparison.Ordinal);
        Assert.Contains("RegistrationId is required", run.Output + run.Error, StringComparison.Ordinal);
    }

    /// <summary>The worker's JSON summary line (logging and the exporter write around it).</summary>
    private static JsonElement Summary(SampleRun run)
    {
        var line = run.Output.Split('\n', StringSplitOptions.TrimEntries).LastOrDefault(l => l.StartsWith("{\"status\":", StringComparison.Ordinal))
            ?? throw new Xunit.Sdk.XunitException($"No summary line.\n{run}");
        using var document = JsonDocument.Parse(line);
        return document.RootElement.Clone();
    }
}

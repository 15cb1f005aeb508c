namespace Provisioning.Samples.Tests;

/// <summary>
/// FirstBoot against a real Azure DPS and IoT hub. Skipped, saying why, unless these are set:
/// <list type="bullet">
/// <item><c>PROVISIONING_LIVE_ID_SCOPE</c>: the DPS ID scope (all tests);
/// <c>PROVISIONING_LIVE_GLOBAL_ENDPOINT</c>: optional, default <c>global.azure-devices-provisioning.net</c>.</item>
/// <item>Symmetric key: <c>PROVISIONING_LIVE_REGISTRATION_ID</c> and <c>PROVISIONING_LIVE_SYMMETRIC_KEY</c> (individual
/// enrollment) or <c>PROVISIONING_LIVE_GROUP_KEY</c> (enrollment group).</item>
/// <item>X.509: <c>PROVISIONING_LIVE_CERTIFICATE</c>, a PFX (no password) or PEM with the key, enrolled individually or
/// through its group.</item>
/// <item>TPM: <c>PROVISIONING_LIVE_TPM</c>, the spec of a TPM whose EK is enrolled (e.g. <c>device</c>).</item>
/// </list>
/// </summary>
public sealed class LiveAzureDpsTests : IDisposable
{
    private readonly string _home = SampleProcess.NewHome();

    [Fact]
    [Trait("Category", "Live")]
    public async Task LiveDps_WithSymmetricKey_AssignsAndDeliversTelemetry()
    {
        var registrationId = Require("PROVISIONING_LIVE_REGISTRATION_ID");
        var key = Environment.GetEnvironmentVariable("PROVISIONING_LIVE_SYMMETRIC_KEY");
        var groupKey = Environment.GetEnvironmentVariable("PROVISIONING_LIVE_GROUP_KEY");
        if (key is null && groupKey is null)
        {
            Assert.Skip("Set PROVISIONING_LIVE_SYMMETRIC_KEY or PROVISIONING_LIVE_GROUP_KEY to run against a real DPS.");
        }

        await RunAsync("symmetric", ["--registration-id", registrationId, key is null ? "--group-key" : "--symmetric-key", key ?? groupKey!]);
    }

    [Fact]
    [Trait("Category", "Live")]
    public async Task LiveDps_WithX509_AssignsAndDeliversTelemetry() =>
        await RunAsync("x509", ["--certificate", Require("PROVISIONING_LIVE_CERTIFICATE")]);

    [Fact]
    [Trait("Category", "Live")]
    public async Task LiveDps_WithTpm_AssignsAndDeliversTelemetry() =>
        await RunAsync("tpm", ["--tpm", Require("PROVISIONING_LIVE_TPM")]);

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private async Task RunAsync(string attestation, string[] credentials)
    {
        var idScope = Require("PROVISIONING_LIVE_ID_SCOPE");
        var endpoint = Environment.GetEnvironmentVariable("PROVISIONING_LIVE_GLOBAL_ENDPOINT") ?? "global.azure-devices-provisioning.net";

        var run = await SampleProcess.RunAsync(
            SampleProcess.FirstBootDll, _home,
            ["--global-endpoint", endpoint, "--id-scope", idScope, "--attestation", attestation, "--reprovision", .. credentials, "--json"],
            TimeSpan.FromMinutes(3));

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Equal("assigned", run.Text("status"));
        Assert.Equal("dps", run.Text("source"));
        Assert.EndsWith(".azure-devices.net", run.Text("assignedHub"), StringComparison.Ordinal);
        Assert.True(run.Json.GetProperty("telemetryDelivered").GetBoolean(), run.ToString());
    }

    private static string Require(string variable)
    {
        var value = Environment.GetEnvironmentVariable(variable);
        if (string.IsNullOrEmpty(value))
        {
            Assert.Skip($"{variable} is not set: this test runs only against a real Azure DPS (see the README, 'A real Azure DPS').");
        }

        return value;
    }
}

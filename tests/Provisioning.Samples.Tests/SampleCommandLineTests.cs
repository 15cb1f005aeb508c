namespace Provisioning.Samples.Tests;

/// <summary>The samples' command lines (System.CommandLine): <c>--help</c> lists every documented flag and exits 0; a
/// usage mistake exits 2 with a clear error, and a misplaced secret is never echoed.</summary>
public sealed class SampleCommandLineTests : IDisposable
{
    private readonly string _home = SampleProcess.NewHome();

    public static TheoryData<string> Samples => ["FirstBoot", "FleetSimulator", "TpmDeviceProvision"];

    [Theory]
    [MemberData(nameof(Samples))]
    public async Task Help_ExitsZero_AndListsEveryDocumentedFlag(string sample)
    {
        var run = await SampleProcess.RunAsync(Dll(sample), _home, ["--help"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Usage:", run.Output, StringComparison.Ordinal);
        foreach (var flag in Flags(sample))
        {
            Assert.Contains(flag, run.Output, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public async Task UnknownFlag_ExitsTwo_NamingIt(string sample)
    {
        var run = await SampleProcess.RunAsync(Dll(sample), _home, ["--no-such-flag"]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("Unrecognized command or argument '--no-such-flag'", run.Output + run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("FirstBoot", "--tpm-timeout", "0", "--tpm-timeout takes a number of seconds above 0")]
    [InlineData("FleetSimulator", "--devices", "0", "--devices must be a whole number from 1 to 1000000, not '0'")]
    [InlineData("TpmDeviceProvision", "--tpm-timeout", "x", "--tpm-timeout takes a number of seconds above 0")]
    public async Task BadValue_ExitsTwo_SayingWhatIsAccepted(string sample, string flag, string value, string expected)
    {
        var run = await SampleProcess.RunAsync(Dll(sample), _home, [flag, value]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains(expected, run.Output + run.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("FirstBoot")]
    [InlineData("TpmDeviceProvision")]
    public async Task MisplacedPassword_IsNeverEchoed(string sample)
    {
        // The value lands as a stray argument: the error names its position, not the text.
        var run = await SampleProcess.RunAsync(Dll(sample), _home, ["--owner-auth", "--verbose", "str:hunter2-secret"]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("at position 3", run.Output + run.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", run.Output + run.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TpmDeviceProvision_VerbWithoutItsFile_ExitsTwo()
    {
        var run = await SampleProcess.RunAsync(SampleProcess.TpmDeviceProvisionDll, _home, ["activate"]);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("Option '--blob' is required", run.Error, StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_home, recursive: true);

    private static string Dll(string sample) => sample switch
    {
        "FirstBoot" => SampleProcess.FirstBootDll,
        "FleetSimulator" => SampleProcess.FleetSimulatorDll,
        _ => SampleProcess.TpmDeviceProvisionDll,
    };

    /// <summary>Every flag the former hand-written parsers took (and the READMEs document).</summary>
    private static string[] Flags(string sample) => sample switch
    {
        "FirstBoot" =>
        [
            "--attestation", "--transport", "--tpm ", "--owner-auth", "--endorsement-auth", "--tpm-timeout", "--payload", "--message",
            "--reprovision", "--csr", "--key-location", "--state", "--json", "--verbose", "--global-endpoint", "--id-scope",
            "--registration-id", "--symmetric-key", "--group-key", "--certificate", "--trusted-ca", "--hub-address", "--emulator",
            "--enroll", "--help",
        ],
        "FleetSimulator" =>
        [
            "--devices", "--hubs", "--allocation", "--attestation", "--transport", "--faults", "--concurrency", "--json", "--verbose",
            "--help",
        ],
        _ => ["--tpm ", "--owner-auth", "--endorsement-auth", "--tpm-timeout", "--verbose", "activate", "sign", "--help"],
    };
}

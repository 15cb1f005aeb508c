using Provisioning.Testing;

namespace Provisioning.Samples.Tests;

/// <summary>FirstBoot on a TPM as found in the field: hierarchy passwords, a TPM that stopped answering, bad TPM options.</summary>
public sealed class FirstBootTpmFieldTests : IDisposable
{
    private readonly string _home = SampleProcess.NewHome();

    [Fact]
    [Trait("Category", "Interop")]
    public async Task FirstBoot_OnSwtpmWithBothHierarchyPasswords_EndsAssigned_AndNeverPrintsThem()
    {
        Swtpm.RequireOrSkip(tools: true);
        await using var swtpm = await SwtpmInstance.StartNewAsync(cancellationToken: TestContext.Current.CancellationToken);
        const string owner = "fb-Owner-secret", endorsement = "fb-Endorsement-secret";
        (await swtpm.ToolAsync("tpm2_changeauth", ["-c", "owner", owner], cancellationToken: TestContext.Current.CancellationToken)).EnsureSuccess("tpm2_changeauth -c owner");
        (await swtpm.ToolAsync("tpm2_changeauth", ["-c", "endorsement", endorsement], cancellationToken: TestContext.Current.CancellationToken)).EnsureSuccess("tpm2_changeauth -c endorsement");
        var ownerFile = Path.Combine(_home, "owner.auth");
        await File.WriteAllTextAsync(ownerFile, owner, TestContext.Current.CancellationToken);
        var endorsementHex = Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(endorsement));

        var refused = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--tpm", swtpm.TransportSpec, "--json"]);
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("The endorsement hierarchy refused", refused.Text("error"), StringComparison.Ordinal);
        Assert.Contains("--endorsement-auth", refused.Text("error"), StringComparison.Ordinal);

        var run = await SampleProcess.RunAsync(
            SampleProcess.FirstBootDll, _home,
            ["--tpm", swtpm.TransportSpec, "--owner-auth", "file:" + ownerFile, "--endorsement-auth", "hex:" + endorsementHex, "--verbose", "--json"]);

        FirstBootTests.AssertAssigned(run, "tpm", "dps");
        Assert.Contains("Key activation", run.Output, StringComparison.Ordinal);
        foreach (var secret in new[] { owner, endorsement, endorsementHex })
        {
            Assert.DoesNotContain(secret, run.Output + run.Error, StringComparison.OrdinalIgnoreCase);
        }
    }

    [Fact]
    [Trait("Category", "Interop")]
    public async Task FirstBoot_OnAFrozenTpm_WithTpmTimeout_FailsSayingNotAnswering()
    {
        Swtpm.RequireOrSkip();
        await using var swtpm = await SwtpmInstance.StartNewAsync(cancellationToken: TestContext.Current.CancellationToken);
        await swtpm.SuspendAsync(TestContext.Current.CancellationToken);
        try
        {
            var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--tpm", swtpm.TransportSpec, "--tpm-timeout", "1", "--json"]);
            Assert.Equal(1, run.ExitCode);
            Assert.Equal("error", run.Text("status"));
            Assert.Contains("within 1 s: it is not answering", run.Text("error"), StringComparison.Ordinal);
        }
        finally
        {
            await swtpm.ResumeAsync(TestContext.Current.CancellationToken);
        }
    }

    [Theory]
    [InlineData("--owner-auth applies only to tpm", "--attestation", "symmetric", "--owner-auth", "str:x")]
    [InlineData("an unset variable is named", "--endorsement-auth", "env:PROVISIONING_NO_SUCH_VARIABLE")]
    [InlineData("hex that is not hex", "--owner-auth", "hex:xyz")]
    [InlineData("a timeout that is not a number", "--tpm-timeout", "later")]
    public async Task FirstBoot_BadTpmOptions_ExitTwo_BeforeAnythingIsCreated(string name, params string[] args)
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, [.. args, "--json"]);

        Assert.True(run.ExitCode == 2, $"{name}: {run}");
        Assert.Equal("error", run.Text("status"));
        Assert.False(Directory.Exists(Path.Combine(_home, ".provisioning-device")), "nothing may be created before the refusal");
        if (args.Contains("env:PROVISIONING_NO_SUCH_VARIABLE"))
        {
            Assert.Contains("PROVISIONING_NO_SUCH_VARIABLE is not set", run.Text("error"), StringComparison.Ordinal);
        }
    }

    public void Dispose() => Directory.Delete(_home, recursive: true);
}

using Provisioning.Testing;

namespace Provisioning.Device.Tpm.Tests.Interop;

/// <summary>samples/TpmDeviceProvision run as a process against swtpm, as a user would.</summary>
[Trait("Category", "Interop")]
public sealed class SampleToolTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<ProcessResult> ToolAsync(params string[] args)
        => ProcessRunner.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "TpmDeviceProvision.dll"), .. args], cancellationToken: Ct);

    [Fact]
    public async Task Show_PrintsTheThreeLines_AndASecondRunPrintsTheSameAndCreatesNothing()
    {
        Swtpm.RequireOrSkip(tools: true);
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        var first = (await ToolAsync("--tpm", tpm.TransportSpec)).EnsureSuccess("TpmDeviceProvision");
        var lines = first.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Matches("^Registration Id: [a-z2-7]{52}$", lines[0]);
        Assert.StartsWith("Endorsement Key: AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S", lines[1], StringComparison.Ordinal);
        Assert.StartsWith("Storage Root Key: ARoAAQALAAMEcgAA", lines[2], StringComparison.Ordinal);

        var handles = (await tpm.ToolAsync("tpm2_getcap", ["handles-persistent"], cancellationToken: Ct)).EnsureSuccess("tpm2_getcap").StandardOutput;
        var second = (await ToolAsync("--tpm", tpm.TransportSpec)).EnsureSuccess("TpmDeviceProvision");
        Assert.Equal(first.StandardOutput, second.StandardOutput);
        Assert.Equal(handles, (await tpm.ToolAsync("tpm2_getcap", ["handles-persistent"], cancellationToken: Ct)).StandardOutput);
    }

    [Fact]
    public async Task ActivateThenSign_GivesTheHmacOfThePlaintextKey()
    {
        Swtpm.RequireOrSkip(tools: true);
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var helper = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        byte[] ek, srk;
        await using (var identity = TpmIdentity.Open(tpm.TransportSpec))
        {
            ek = await identity.GetEndorsementKeyAsync(Ct);
            srk = await identity.GetStorageRootKeyAsync(Ct);
        }

        var blob = await DpsBlobBuilder.BuildAsync(helper, ek, srk, Ct);
        var dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            var blobFile = Path.Combine(dir, "blob.bin");
            var dataFile = Path.Combine(dir, "data.bin");
            await File.WriteAllBytesAsync(blobFile, blob.Blob, Ct);
            var data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(1500);
            await File.WriteAllBytesAsync(dataFile, data, Ct);

            (await ToolAsync("activate", "--blob", blobFile, "--tpm", tpm.TransportSpec)).EnsureSuccess("activate");
            var signed = (await ToolAsync("sign", "--data", dataFile, "--tpm", tpm.TransportSpec)).EnsureSuccess("sign");
            var expected = await DpsBlobBuilder.OpensslHmacAsync(blob.IdentityKey, data, Ct);
            Assert.Equal($"Signature: {Convert.ToBase64String(expected)}", signed.StandardOutput.Trim());

            blob.Blob[^10] ^= 1; // inside the identity key's public area
            await File.WriteAllBytesAsync(blobFile, blob.Blob, Ct);
            var refused = await ToolAsync("activate", "--blob", blobFile, "--tpm", tpm.TransportSpec);
            Assert.Equal(1, refused.ExitCode);
            Assert.Single(refused.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("error: ", refused.StandardError, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task NoTpm_PrintsOneLine_AndExitsNonZero_WithoutAStackTrace()
    {
        var result = await ToolAsync("--tpm", "device:/nonexistent/tpm0");
        Assert.Equal(1, result.ExitCode);
        Assert.Equal(string.Empty, result.StandardOutput);
        var line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: No TPM device found", line, StringComparison.Ordinal);

        var verbose = await ToolAsync("--tpm", "device:/nonexistent/tpm0", "--verbose");
        Assert.Contains("   at ", verbose.StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("unknown verb", "frob")]
    [InlineData("activate without a blob", "activate")]
    [InlineData("sign without data", "sign", "--tpm", "device")]
    [InlineData("unknown option", "--frob")]
    public async Task BadArguments_PrintUsage_AndExit2(string name, params string[] args)
    {
        var result = await ToolAsync(args);
        Assert.True(result.ExitCode == 2, name);
        Assert.Contains("usage: TpmDeviceProvision", result.StandardError, StringComparison.Ordinal);
    }
}

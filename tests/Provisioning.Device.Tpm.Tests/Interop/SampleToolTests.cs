using Provisioning.Testing;

namespace Provisioning.Device.Tpm.Tests.Interop;

/// <summary>samples/TpmDeviceProvision run as a process against swtpm, as a user would.</summary>
[Trait("Category", "Interop")]
public sealed class SampleToolTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<ProcessResult> ToolAsync(params string[] args)
        => ProcessRunner.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "TpmDeviceProvision.dll"), .. args], cancellationToken: Ct);

    private static Task<ProcessResult> ToolWithEnvironmentAsync(IReadOnlyDictionary<string, string> environment, params string[] args)
        => ProcessRunner.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "TpmDeviceProvision.dll"), .. args], environment: environment, cancellationToken: Ct);

    [Fact]
    public async Task HierarchyPasswords_InEveryForm_ShowActivateSign_AndNeverPrintThem()
    {
        Swtpm.RequireOrSkip(tools: true);
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var helper = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        const string owner = "Own3r-pass", endorsement = "Endo-pass-9";
        (await tpm.ToolAsync("tpm2_changeauth", ["-c", "owner", owner], cancellationToken: Ct)).EnsureSuccess("tpm2_changeauth -c owner");
        (await tpm.ToolAsync("tpm2_changeauth", ["-c", "endorsement", endorsement], cancellationToken: Ct)).EnsureSuccess("tpm2_changeauth -c endorsement");
        var dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            var ownerFile = Path.Combine(dir, "owner.auth");
            await File.WriteAllTextAsync(ownerFile, owner, Ct);
            var endorsementHex = "hex:" + Convert.ToHexString(System.Text.Encoding.UTF8.GetBytes(endorsement));
            var environment = new Dictionary<string, string> { ["TPM_OWNER_AUTH"] = owner, ["TPM_EK_AUTH"] = endorsement };
            void NoSecrets(ProcessResult run)
            {
                foreach (var secret in new[] { owner, endorsement, endorsementHex[4..] })
                {
                    Assert.DoesNotContain(secret, run.StandardOutput + run.StandardError, StringComparison.OrdinalIgnoreCase);
                }
            }

            // Without passwords: the endorsement hierarchy is named with its flag; then the owner hierarchy.
            var refused = await ToolAsync("--tpm", tpm.TransportSpec);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("endorsement hierarchy refused", refused.StandardError, StringComparison.Ordinal);
            Assert.Contains("--endorsement-auth", refused.StandardError, StringComparison.Ordinal);
            var ownerRefused = await ToolAsync("--tpm", tpm.TransportSpec, "--endorsement-auth", "str:" + endorsement, "--owner-auth", "str:wrong-one", "--verbose");
            Assert.Equal(1, ownerRefused.ExitCode);
            Assert.Contains("owner hierarchy refused", ownerRefused.StandardError, StringComparison.Ordinal);
            Assert.Contains("--owner-auth", ownerRefused.StandardError, StringComparison.Ordinal);
            Assert.DoesNotContain("wrong-one", ownerRefused.StandardError, StringComparison.Ordinal);
            NoSecrets(ownerRefused);

            var shown = (await ToolWithEnvironmentAsync(environment, "--tpm", tpm.TransportSpec, "--owner-auth", "env:TPM_OWNER_AUTH", "--endorsement-auth", "env:TPM_EK_AUTH", "--verbose"))
                .EnsureSuccess("show with env: passwords");
            NoSecrets(shown);
            var lines = shown.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            var ek = Convert.FromBase64String(lines[1]["Endorsement Key: ".Length..].Trim());
            var srk = Convert.FromBase64String(lines[2]["Storage Root Key: ".Length..].Trim());

            var blob = await DpsBlobBuilder.BuildAsync(helper, ek, srk, Ct);
            var blobFile = Path.Combine(dir, "blob.bin");
            var dataFile = Path.Combine(dir, "data.bin");
            await File.WriteAllBytesAsync(blobFile, blob.Blob, Ct);
            var data = System.Security.Cryptography.RandomNumberGenerator.GetBytes(2000);
            await File.WriteAllBytesAsync(dataFile, data, Ct);
            NoSecrets((await ToolAsync("activate", "--blob", blobFile, "--tpm", tpm.TransportSpec, "--owner-auth", "file:" + ownerFile, "--endorsement-auth", endorsementHex))
                .EnsureSuccess("activate with file: and hex: passwords"));
            var signed = (await ToolAsync("sign", "--data", dataFile, "--tpm", tpm.TransportSpec)).EnsureSuccess("sign (no hierarchy involved)");
            Assert.Equal($"Signature: {Convert.ToBase64String(await DpsBlobBuilder.OpensslHmacAsync(blob.IdentityKey, data, Ct))}", signed.StandardOutput.Trim());
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task FrozenTpm_WithTpmTimeout_EndsWithOneLine_ThatSaysNotAnswering()
    {
        Swtpm.RequireOrSkip();
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await tpm.SuspendAsync(Ct);
        try
        {
            var result = await ToolAsync("--tpm", tpm.TransportSpec, "--tpm-timeout", "1");
            Assert.Equal(1, result.ExitCode);
            var line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("did not answer TPM2_", line, StringComparison.Ordinal);
            Assert.Contains("within 1 s: it is not answering", line, StringComparison.Ordinal);
        }
        finally
        {
            await tpm.ResumeAsync(Ct);
        }
    }

    [Fact]
    public async Task DevicePath_ThatIsARegularFileOrADirectory_IsRefused_AndTheFileIsUntouched()
    {
        var dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            var file = Path.Combine(dir, "looks-like-a-tpm");
            await File.WriteAllTextAsync(file, "keep me", Ct);
            var onFile = await ToolAsync("--tpm", "device:" + file);
            Assert.Equal(1, onFile.ExitCode);
            Assert.Contains("is a regular file, not a TPM character device; nothing was written to it", onFile.StandardError, StringComparison.Ordinal);
            Assert.Equal("keep me", await File.ReadAllTextAsync(file, Ct));

            var onDirectory = await ToolAsync("--tpm", "device:" + dir);
            Assert.Equal(1, onDirectory.ExitCode);
            Assert.Contains("is a directory, not a TPM character device", onDirectory.StandardError, StringComparison.Ordinal);
            Assert.DoesNotContain("Permission denied", onDirectory.StandardError, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

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
    [InlineData("a timeout that is not a number", "--tpm-timeout", "soon")]
    [InlineData("a password flag without its value", "--owner-auth")]
    public async Task BadArguments_PrintUsage_AndExit2(string name, params string[] args)
    {
        var result = await ToolAsync(args);
        Assert.True(result.ExitCode == 2, name);
        // System.CommandLine's usage block follows the error on standard error.
        Assert.Contains("Usage:", result.StandardError, StringComparison.Ordinal);
        Assert.Contains("TpmDeviceProvision", result.StandardError, StringComparison.Ordinal);
    }
}

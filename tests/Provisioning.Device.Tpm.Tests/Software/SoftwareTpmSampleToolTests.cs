using System.Security.Cryptography;

using Provisioning.Emulator.Tpm;
using Provisioning.Testing;

namespace Provisioning.Device.Tpm.Tests.Software;

/// <summary>samples/TpmDeviceProvision with <c>--tpm software:&lt;dir&gt;</c>: the three verbs, each a separate process on one state folder.</summary>
public sealed class SoftwareTpmSampleToolTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("software-tpm-tool").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private string Spec => "software:" + Path.Combine(_dir, "state");

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static Task<ProcessResult> ToolAsync(params string[] args)
        => ProcessRunner.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "TpmDeviceProvision.dll"), .. args], cancellationToken: Ct);

    [Fact]
    public async Task ShowActivateSign_WorkAcrossProcesses_OnOneStateFolder()
    {
        var first = (await ToolAsync("--tpm", Spec)).EnsureSuccess("show").StandardOutput;
        var lines = first.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.Matches("^Registration Id: [a-z2-7]{52}$", lines[0]);
        Assert.Equal(first, (await ToolAsync("--tpm", Spec)).EnsureSuccess("show again").StandardOutput);

        var ek = Convert.FromBase64String(lines[1]["Endorsement Key: ".Length..]);
        var srk = Convert.FromBase64String(lines[2]["Storage Root Key: ".Length..]);
        var issued = new TpmCredentialIssuer().Issue(ek, srk);
        var blobFile = Path.Combine(_dir, "blob.bin");
        var dataFile = Path.Combine(_dir, "data.bin");
        await File.WriteAllBytesAsync(blobFile, issued.AuthenticationKey, Ct);
        var data = RandomNumberGenerator.GetBytes(2000);
        await File.WriteAllBytesAsync(dataFile, data, Ct);

        (await ToolAsync("activate", "--blob", blobFile, "--tpm", Spec)).EnsureSuccess("activate");
        var signed = (await ToolAsync("sign", "--data", dataFile, "--tpm", Spec)).EnsureSuccess("sign");
        Assert.Equal($"Signature: {Convert.ToBase64String(HMACSHA256.HashData(issued.IdentityKey, data))}", signed.StandardOutput.Trim());
    }

    [Fact]
    public async Task StateFolderOpenToOthers_PrintsOneClearLine_AndExitsNonZero()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Skip("Unix permissions only.");
            return;
        }

        (await ToolAsync("--tpm", Spec)).EnsureSuccess("show");
        File.SetUnixFileMode(Path.Combine(_dir, "state"), UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var result = await ToolAsync("--tpm", Spec);
        Assert.Equal(1, result.ExitCode);
        var line = Assert.Single(result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("accessible to group or others", line, StringComparison.Ordinal);
    }
}

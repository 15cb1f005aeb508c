using Provisioning.Testing;

namespace Provisioning.Device.Tpm.Tests;

[Trait("Category", "Interop")]
public sealed class SwtpmFixtureTests(SwtpmFixture swtpm) : IClassFixture<SwtpmFixture>
{
    [Fact]
    public async Task Swtpm_StartsAndAnswersTpm2Tools_AndKeepsPersistentObjectsAcrossRestart()
    {
        var tpm = await swtpm.GetAsync(tools: true);
        var random = await tpm.ToolAsync("tpm2_getrandom", ["--hex", "8"], cancellationToken: TestContext.Current.CancellationToken);
        random.EnsureSuccess("tpm2_getrandom");
        Assert.Equal(16, random.StandardOutput.Trim().Length);

        var dir = Directory.CreateTempSubdirectory().FullName;
        (await tpm.ToolAsync("tpm2_createek", ["-c", "0x81010001", "-G", "rsa", "-u", Path.Combine(dir, "ek.pub")], cancellationToken: TestContext.Current.CancellationToken)).EnsureSuccess("tpm2_createek");
        await tpm.RestartAsync(TestContext.Current.CancellationToken);
        var handles = await tpm.ToolAsync("tpm2_getcap", ["handles-persistent"], cancellationToken: TestContext.Current.CancellationToken);
        Assert.Contains("0x81010001", handles.EnsureSuccess("tpm2_getcap").StandardOutput, StringComparison.Ordinal);
        Directory.Delete(dir, true);
    }
}

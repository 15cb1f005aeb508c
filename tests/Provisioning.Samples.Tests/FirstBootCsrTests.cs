using Provisioning.Testing;

namespace Provisioning.Samples.Tests;

/// <summary>FirstBoot <c>--csr</c> (issue 16): a certificate issued with the registration, the hub reached with it, and the
/// second boot connecting with the stored certificate from the cache.</summary>
public sealed class FirstBootCsrTests : IDisposable
{
    private readonly string _home = SampleProcess.NewHome();

    [Theory]
    [InlineData("symmetric", "mqtt", "ecc")]
    [InlineData("x509", "https", "rsa")]
    [InlineData("tpm", "https", "ecc")]
    public async Task FirstBoot_WithCsr_ConnectsWithTheIssuedCertificate_ThenWithTheCachedOne(string attestation, string transport, string algorithm)
    {
        var first = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--attestation", attestation, "--transport", transport, "--csr", algorithm, "--json"]);

        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Equal("assigned", first.Text("status"));
        Assert.Equal("dps", first.Text("source"));
        var issued = first.Json.GetProperty("issuedCertificate");
        Assert.Equal("software", issued.GetProperty("keyLocation").GetString()); // the default for a software TPM (no TCTI for TLS)
        Assert.Equal("CN=" + first.Text("registrationId"), issued.GetProperty("subject").GetString());
        Assert.Contains("issued certificate", first.Output, StringComparison.Ordinal);

        var second = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, ["--attestation", attestation, "--transport", transport, "--csr", algorithm, "--json"]);

        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Equal("cache", second.Text("source"));
        Assert.True(second.Json.GetProperty("telemetryDelivered").GetBoolean());
        Assert.Equal(issued.GetProperty("thumbprint").GetString(), second.Json.GetProperty("issuedCertificate").GetProperty("thumbprint").GetString());
    }

    [Fact]
    public async Task FirstBoot_OnSwtpm_WithTheKeyInTheTpm_ConnectsThroughTheTpm2Provider_ThenWithTheCachedCertificate()
    {
        Swtpm.RequireOrSkip();
        if (!OperatingSystem.IsLinux() || !File.Exists("/usr/lib/x86_64-linux-gnu/ossl-modules/tpm2.so"))
        {
            var reason = "OpenSSL's tpm2 provider is not installed (apt-get install tpm2-openssl); TLS with a TPM key needs it.";
            if (Swtpm.IsRequired)
            {
                Assert.Fail(reason);
            }

            Assert.Skip(reason);
        }

        await using var swtpm = await SwtpmInstance.StartNewAsync(cancellationToken: TestContext.Current.CancellationToken);
        string[] arguments = ["--tpm", swtpm.TransportSpec, "--csr", "ecc", "--key-location", "tpm", "--json"];

        // FirstBoot keeps its TPM open; the provider is a second client of a one-client swtpm: the first boot shows they take turns.
        var first = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, arguments);

        Assert.True(first.ExitCode == 0, first.Output);
        Assert.Equal("dps", first.Text("source"));
        var issued = first.Json.GetProperty("issuedCertificate");
        Assert.Equal("tpm", issued.GetProperty("keyLocation").GetString());
        Assert.True(first.Json.GetProperty("telemetryDelivered").GetBoolean());
        Assert.Contains("issued certificate, EccP256 key in the TPM", first.Output, StringComparison.Ordinal);

        var second = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, arguments);

        Assert.True(second.ExitCode == 0, second.Output);
        Assert.Equal("cache", second.Text("source"));
        Assert.True(second.Json.GetProperty("telemetryDelivered").GetBoolean());
        Assert.Equal(issued.GetProperty("thumbprint").GetString(), second.Json.GetProperty("issuedCertificate").GetProperty("thumbprint").GetString());
        Assert.Equal("tpm", second.Json.GetProperty("issuedCertificate").GetProperty("keyLocation").GetString());

        // Without the provider (OpenSSL looks for modules where OPENSSL_MODULES says): the error says what to install.
        var noModules = Directory.CreateTempSubdirectory("no-ossl-modules-");
        try
        {
            var third = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, arguments, environment: new Dictionary<string, string> { ["OPENSSL_MODULES"] = noModules.FullName });

            Assert.NotEqual(0, third.ExitCode);
            Assert.Contains($"no tpm2.so in {noModules.FullName}", third.Output, StringComparison.Ordinal);
            Assert.Contains("apt-get install tpm2-openssl", third.Output, StringComparison.Ordinal);
        }
        finally
        {
            noModules.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("--key-location applies with --csr only", "--key-location", "software")]
    [InlineData("--key-location tpm needs --attestation tpm", "--attestation", "symmetric", "--csr", "--key-location", "tpm")]
    [InlineData("--csr takes ecc, rsa or rsa3072", "--csr", "dsa")]
    public async Task FirstBoot_WithCsrOptionsMisused_ExitsTwoWithTheProblem(string problem, params string[] arguments)
    {
        var run = await SampleProcess.RunAsync(SampleProcess.FirstBootDll, _home, [.. arguments, "--json"]);

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(problem, run.Text("error"), StringComparison.Ordinal);
    }

    public void Dispose() => Directory.Delete(_home, recursive: true);
}

using System.Net;

using Provisioning.Emulator.Hubs;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

public sealed class X509RegistrationTests
{
    [Fact]
    public async Task Register_WithEnrolledDeviceCertificate_AssignsWithCertificateInfo()
    {
        using var root = TestCertificates.Root("Test Root");
        using var leaf = TestCertificates.Leaf(root, "x509-01");
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddX509Async("x509-01", leaf, cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps, leaf);

        var final = await TestDps.RegisterToEndAsync(client, dps, "x509-01", sas: null);

        var state = final.GetProperty("registrationState");
        Assert.Equal("assigned", state.GetProperty("status").GetString());
        var info = state.GetProperty("x509").GetProperty("certificateInfo");
        Assert.Equal(leaf.Thumbprint, info.GetProperty("sha1Thumbprint").GetString());
        var device = await dps.HubRegistry.FindAsync("hub1.localhost", "x509-01", TestContext.Current.CancellationToken);
        Assert.Equal(HubCredentialKind.X509, device!.Kind);
        Assert.Equal(leaf.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256), device.Thumbprint);
    }

    [Fact]
    public async Task Register_WithLeafOfGroupRoot_AssignsAndNamesTheGroup()
    {
        using var root = TestCertificates.Root("Group Root");
        using var leaf = TestCertificates.Leaf(root, "x509-02");
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddX509GroupAsync("fleet", root, cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps, leaf);

        var final = await TestDps.RegisterToEndAsync(client, dps, "x509-02", sas: null);

        var x509 = final.GetProperty("registrationState").GetProperty("x509");
        Assert.Equal("fleet", x509.GetProperty("enrollmentGroupId").GetString());
        Assert.Equal(root.Thumbprint, x509.GetProperty("signingCertificateInfo").GetProperty("sha1Thumbprint").GetString());
    }

    [Fact]
    public async Task Register_WithLeafOfGroupIntermediate_ValidatesTheChainToTheIntermediate()
    {
        using var root = TestCertificates.Root("Unenrolled Root");
        using var intermediate = TestCertificates.Intermediate(root, "Enrolled Intermediate");
        using var leaf = TestCertificates.Leaf(intermediate, "x509-03");
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddX509GroupAsync("fleet-ica", intermediate, cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps, leaf);

        var final = await TestDps.RegisterToEndAsync(client, dps, "x509-03", sas: null);

        Assert.Equal("fleet-ica", final.GetProperty("registrationState").GetProperty("x509").GetProperty("enrollmentGroupId").GetString());
    }

    [Fact]
    public async Task Register_WithCertificateNotChainingToAnyGroup_Answers401002()
    {
        using var root = TestCertificates.Root("Enrolled Root");
        using var stranger = TestCertificates.SelfSigned("x509-04");
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddX509GroupAsync("fleet", root, cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps, stranger);

        using var response = await client.SendAsync(TestDps.Register(dps, "x509-04"), TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task Register_WhenCommonNameDiffersFromUrl_Answers401002()
    {
        using var root = TestCertificates.Root("Group Root");
        using var leaf = TestCertificates.Leaf(root, "x509-05");
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddX509GroupAsync("fleet", root, cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps, leaf);

        using var response = await client.SendAsync(TestDps.Register(dps, "someone-else"), TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task Register_WithIndividualEnrollmentButOtherCertificate_Answers401002()
    {
        using var root = TestCertificates.Root("Root");
        using var enrolled = TestCertificates.Leaf(root, "x509-06");
        using var other = TestCertificates.Leaf(root, "x509-06");
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddX509Async("x509-06", enrolled, cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps, other);

        using var response = await client.SendAsync(TestDps.Register(dps, "x509-06"), TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task IssueServerCertificate_ForAHubName_ChainsToTheEmulatorCa()
    {
        await using var dps = await TestDps.StartAsync();

        using var hubCertificate = dps.CertificateAuthority.IssueServerCertificate("hub1.localhost");

        using var chain = new System.Security.Cryptography.X509Certificates.X509Chain();
        chain.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(dps.CertificateAuthority.Certificate);
        chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
        Assert.True(chain.Build(hubCertificate));
        Assert.True(hubCertificate.HasPrivateKey);
        Assert.True(hubCertificate.MatchesHostname("hub1.localhost"));
    }
}

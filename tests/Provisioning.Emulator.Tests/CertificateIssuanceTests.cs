using System.Formats.Asn1;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

using Provisioning.Emulator.Hubs;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

public sealed class CertificateIssuanceTests
{
    private static string Csr(string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return Convert.ToBase64String(new CertificateRequest("CN=" + commonName, key, HashAlgorithmName.SHA256).CreateSigningRequest());
    }

    [Fact]
    public async Task Register_WithCsrOnPreviewApi_ReturnsAChainFromTheEmulatorCaAndRegistersItsThumbprint()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("csr-01", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);
        var sas = TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "csr-01");
        using var put = await client.SendAsync(TestDps.Register(dps, "csr-01", $"{{\"registrationId\":\"csr-01\",\"csr\":\"{Csr("csr-01")}\"}}", sas, "2025-07-01-preview"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);
        var operationId = (await TestDps.JsonAsync(put)).GetProperty("operationId").GetString()!;

        using var get = await client.SendAsync(TestDps.Operation(dps, "csr-01", operationId, sas, "2025-07-01-preview"), TestContext.Current.CancellationToken);

        var chain = (await TestDps.JsonAsync(get)).GetProperty("registrationState").GetProperty("issuedCertificateChain");
        Assert.Equal(2, chain.GetArrayLength());
        using var leaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(chain[0].GetString()!));
        Assert.Equal("CN=csr-01", leaf.Subject);
        Assert.Equal(dps.CertificateAuthority.Certificate.RawData, Convert.FromBase64String(chain[1].GetString()!));
        using var validation = new X509Chain();
        validation.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        validation.ChainPolicy.CustomTrustStore.Add(dps.CertificateAuthority.Certificate);
        validation.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        Assert.True(validation.Build(leaf));
        var device = await dps.HubRegistry.FindAsync("hub1.localhost", "csr-01", TestContext.Current.CancellationToken);
        Assert.Equal(HubCredentialKind.CertificateAuthority, device!.Kind);
        Assert.Equal(leaf.GetCertHashString(HashAlgorithmName.SHA256), device.Thumbprint);
    }

    [Fact]
    public async Task Register_WithCsrForAnEnrollmentNamingAnotherDeviceId_RegistersTheThumbprint_SinceCaAuthenticationNeedsCnEqualToDeviceId()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("csr-02", new Enrollments.EnrollmentSettings { DeviceId = "device-of-csr-02" }, TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);
        var sas = TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "csr-02");
        using var put = await client.SendAsync(TestDps.Register(dps, "csr-02", $"{{\"registrationId\":\"csr-02\",\"csr\":\"{Csr("csr-02")}\"}}", sas, "2025-07-01-preview"), TestContext.Current.CancellationToken);
        var operationId = (await TestDps.JsonAsync(put)).GetProperty("operationId").GetString()!;
        using var get = await client.SendAsync(TestDps.Operation(dps, "csr-02", operationId, sas, "2025-07-01-preview"), TestContext.Current.CancellationToken);
        var chain = (await TestDps.JsonAsync(get)).GetProperty("registrationState").GetProperty("issuedCertificateChain");
        using var leaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(chain[0].GetString()!));

        var device = await dps.HubRegistry.FindAsync("hub1.localhost", "device-of-csr-02", TestContext.Current.CancellationToken);

        Assert.Equal(HubCredentialKind.X509, device!.Kind);
        Assert.Equal(leaf.GetCertHashString(HashAlgorithmName.SHA256), device.Thumbprint);
    }

    [Fact]
    public async Task Register_WithCsrOnOlderApi_IgnoresIt()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("csr-02", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        var final = await TestDps.RegisterToEndAsync(client, dps, "csr-02", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "csr-02"), $"{{\"csr\":\"{Csr("csr-02")}\"}}");

        Assert.False(final.GetProperty("registrationState").TryGetProperty("issuedCertificateChain", out _));
    }

    [Theory]
    [InlineData("not-base64!")]
    [InlineData("AAECAwQ=")]
    public async Task Register_WithUndecodableCsr_Answers400001(string? csr)
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("csr-03", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        using var put = await client.SendAsync(
            TestDps.Register(dps, "csr-03", $"{{\"csr\":\"{csr}\"}}", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "csr-03"), "2025-07-01-preview"),
            TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(put, HttpStatusCode.BadRequest, 400001);
    }

    [Fact]
    public async Task Register_WithCsrForAnotherCommonName_AnswersTheRegistrationIdMismatchCode()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("csr-06", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        using var put = await client.SendAsync(
            TestDps.Register(dps, "csr-06", $"{{\"csr\":\"{Csr("someone-else")}\"}}", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "csr-06"), "2025-07-01-preview"),
            TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(put, HttpStatusCode.BadRequest, 400004);
    }

    [Fact]
    public async Task Register_WithCsrWhoseSignatureDoesNotVerify_Answers400013()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var der = new CertificateRequest("CN=csr-07", key, HashAlgorithmName.SHA256).CreateSigningRequest();
        der[^3] ^= 0x01; // a bit of the signature's s value
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("csr-07", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        using var put = await client.SendAsync(
            TestDps.Register(dps, "csr-07", $"{{\"csr\":\"{Convert.ToBase64String(der)}\"}}", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "csr-07"), "2025-07-01-preview"),
            TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(put, HttpStatusCode.BadRequest, 400013);
    }

    [Theory]
    [InlineData("rsa1024")]
    [InlineData("secp256k1")]
    public async Task Register_WithCsrForAWeakKey_Answers400014(string kind)
    {
        using AsymmetricAlgorithm key = kind == "rsa1024" ? RSA.Create(1024) : ECDsa.Create(ECCurve.CreateFromFriendlyName("secP256k1"));
        var request = key is RSA rsa
            ? new CertificateRequest("CN=csr-08", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            : new CertificateRequest("CN=csr-08", (ECDsa)key, HashAlgorithmName.SHA256);
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("csr-08", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        using var put = await client.SendAsync(
            TestDps.Register(dps, "csr-08", $"{{\"csr\":\"{Convert.ToBase64String(request.CreateSigningRequest())}\"}}", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "csr-08"), "2025-07-01-preview"),
            TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(put, HttpStatusCode.BadRequest, 400014);
    }

    [Theory]
    [InlineData("Common name in a multi-valued RDN", true)]
    [InlineData("Common name after another attribute in a multi-valued RDN", false)]
    public async Task Register_WithCsrWhoseCommonNameIsInAMultiValuedRdn_Answers400001(string name, bool commonNameFirst)
    {
        (string, string)[] rdn = commonNameFirst ? [(CommonName, "csr-04"), (Organization, "Contoso")] : [(Organization, "Contoso"), (CommonName, "csr-04")];
        var distinguishedName = Name(rdn);
        Assert.True(distinguishedName.EnumerateRelativeDistinguishedNames().Any(rdn => rdn.HasMultipleElements), name);
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("csr-04", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        using var put = await client.SendAsync(
            TestDps.Register(dps, "csr-04", $"{{\"csr\":\"{Csr(distinguishedName)}\"}}", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "csr-04"), "2025-07-01-preview"),
            TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(put, HttpStatusCode.BadRequest, 400001);
    }

    [Fact]
    public async Task Register_WithCsrHavingAMultiValuedRdnBesideItsCommonName_IsAccepted()
    {
        var distinguishedName = Name([(CommonName, "csr-05")], [(Organization, "Contoso"), ("2.5.4.11", "Devices")]);
        Assert.Contains(distinguishedName.EnumerateRelativeDistinguishedNames(), rdn => rdn.HasMultipleElements);
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("csr-05", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        using var put = await client.SendAsync(
            TestDps.Register(dps, "csr-05", $"{{\"csr\":\"{Csr(distinguishedName)}\"}}", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "csr-05"), "2025-07-01-preview"),
            TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);
    }

    private const string CommonName = "2.5.4.3";
    private const string Organization = "2.5.4.10";

    /// <summary>A name built RDN by RDN (the string parser never makes multi-valued RDNs).</summary>
    private static X500DistinguishedName Name(params (string Oid, string Value)[][] rdns)
    {
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            foreach (var rdn in rdns)
            {
                using (writer.PushSetOf())
                {
                    foreach (var (oid, value) in rdn)
                    {
                        using (writer.PushSequence())
                        {
                            writer.WriteObjectIdentifier(oid);
                            writer.WriteCharacterString(UniversalTagNumber.UTF8String, value);
                        }
                    }
                }
            }
        }

        return new X500DistinguishedName(writer.Encode());
    }

    private static string Csr(X500DistinguishedName subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        return Convert.ToBase64String(new CertificateRequest(subject, key, HashAlgorithmName.SHA256).CreateSigningRequest());
    }
}

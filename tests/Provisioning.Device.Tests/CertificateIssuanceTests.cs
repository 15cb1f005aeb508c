using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests;

/// <summary>Certificate issuance on the client (issue 16, dps-protocol.md §9): the CSR sent, the issued chain checked
/// against the key before it is returned or cached.</summary>
public sealed class CertificateIssuanceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(CertificateKeyAlgorithm.EccP256)]
    [InlineData(CertificateKeyAlgorithm.Rsa2048)]
    [InlineData(CertificateKeyAlgorithm.Rsa3072)]
    public async Task SigningRequest_VerifiesWithItsKey_AndNamesTheRegistrationId(CertificateKeyAlgorithm algorithm)
    {
        using var key = SoftwareCertificateKey.Create(algorithm);

        byte[] der = await key.CreateSigningRequestAsync("device-01", Ct);

        // LoadSigningRequest checks the signature by default.
        var request = CertificateRequest.LoadSigningRequest(der, HashAlgorithmName.SHA256);
        Assert.Equal("CN=device-01", request.SubjectName.Name);
        Assert.Equal(key.SubjectPublicKeyInfo.ToArray(), request.PublicKey.ExportSubjectPublicKeyInfo());
        Assert.Equal(algorithm == CertificateKeyAlgorithm.EccP256 ? "1.2.840.10045.2.1" : "1.2.840.113549.1.1.1", request.PublicKey.Oid.Value);
    }

    [Fact]
    public async Task SigningRequest_CommonNameWithDistinguishedNameSyntax_IsOneUtf8Attribute()
    {
        using var key = SoftwareCertificateKey.Create();

        var request = CertificateRequest.LoadSigningRequest(await key.CreateSigningRequestAsync("a,O=evil", Ct), HashAlgorithmName.SHA256);

        var rdn = Assert.Single(request.SubjectName.EnumerateRelativeDistinguishedNames());
        Assert.Equal("a,O=evil", rdn.GetSingleElementValue());
    }

    [Fact]
    public async Task Register_WithKey_SendsTheCsrOnThePreviewApi_AndReturnsTheValidatedChainWithTheKey()
    {
        using var ca = TestCa("CN=Issuing CA");
        using var key = SoftwareCertificateKey.Create();
        var handler = new ScriptedHttpHandler()
            .Then((request, _) => Task.FromResult(ScriptedHttpHandler.Response(HttpStatusCode.OK, AssignedWithChain(Issue(request, ca), ca))));
        using var client = TestClients.Create(handler, TestClients.SymmetricKey(), Options());

        var result = await client.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = key }, Ct);

        var put = Assert.Single(handler.Requests);
        Assert.Contains("api-version=2025-07-01-preview", put.Uri.Query, StringComparison.Ordinal);
        using var body = JsonDocument.Parse(put.Body!);
        var sent = CertificateRequest.LoadSigningRequest(Convert.FromBase64String(body.RootElement.GetProperty("csr").GetString()!), HashAlgorithmName.SHA256);
        Assert.Equal("CN=device-01", sent.SubjectName.Name);
        Assert.Same(key, result.CertificateSigningKey);
        Assert.Equal(2, result.IssuedCertificateChain.Count);
    }

    public static TheoryData<string> RefusedChains => ["forged", "expired", "not-yet-valid", "other-key", "other-name", "empty", "garbage", "ca-leaf", "no-root", "untrusted-root"];

    [Theory]
    [MemberData(nameof(RefusedChains))]
    public async Task Register_WithAChainThatDoesNotHold_ThrowsAndCachesNothing(string kind)
    {
        using var ca = TestCa("CN=Issuing CA");
        using var impostor = TestCa("CN=Issuing CA"); // same name, other key: a forged issuer
        using var otherTrusted = TestCa("CN=Configured root");
        using var key = SoftwareCertificateKey.Create();
        using var otherKey = SoftwareCertificateKey.Create();
        var cache = new MemoryCache();
        var now = DateTimeOffset.UtcNow;
        var handler = new ScriptedHttpHandler().Then(async (request, ct) =>
        {
            string body = kind switch
            {
                "forged" => AssignedWithChain(Issue(request, impostor), ca),
                "expired" => AssignedWithChain(Issue(request, ca, now.AddDays(-10), now.AddSeconds(-1)), ca),
                "not-yet-valid" => AssignedWithChain(Issue(request, ca, now.AddHours(1), now.AddDays(10)), ca),
                "other-key" => AssignedWithChain(Issue(await otherKey.CreateSigningRequestAsync("device-01", ct), ca), ca),
                "other-name" => AssignedWithChain(Issue(await key.CreateSigningRequestAsync("device-02", ct), ca), ca),
                "empty" => Dps.Assigned(),
                "garbage" => Dps.Assigned().Replace("\"etag\"", "\"issuedCertificateChain\":[\"AAECAw==\"],\"etag\"", StringComparison.Ordinal),
                "ca-leaf" => AssignedWithChain(Issue(request, ca, isCa: true), ca),
                "no-root" => AssignedWithChain(Issue(request, ca), null),
                _ => AssignedWithChain(Issue(request, ca), ca),
            };
            return ScriptedHttpHandler.Response(HttpStatusCode.OK, body);
        });
        var options = Options();
        options.RegistrationCache = cache;
        if (kind == "untrusted-root")
        {
            options.IssuedCertificateTrustedRoots.Add(otherTrusted);
        }

        using var client = TestClients.Create(handler, TestClients.SymmetricKey(), options);

        var refused = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = key }, Ct));

        Assert.False(refused.IsTransient);
        Assert.Contains("issued certificate chain", refused.Message, StringComparison.Ordinal);
        Assert.Null(cache.Entry);
    }

    [Fact]
    public async Task Register_WithConfiguredRoot_AcceptsAChainLeadingToIt()
    {
        using var ca = TestCa("CN=Issuing CA");
        using var key = SoftwareCertificateKey.Create();
        var handler = new ScriptedHttpHandler()
            .Then((request, _) => Task.FromResult(ScriptedHttpHandler.Response(HttpStatusCode.OK, AssignedWithChain(Issue(request, ca), null))));
        var options = Options();
        options.IssuedCertificateTrustedRoots.Add(X509CertificateLoader.LoadCertificate(ca.RawData));
        using var client = TestClients.Create(handler, TestClients.SymmetricKey(), options);

        var result = await client.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = key }, Ct);

        Assert.Single(result.IssuedCertificateChain);
    }

    [Fact]
    public async Task Register_FromCache_ReturnsTheCachedChainWithTheKey_UnlessItExpired()
    {
        using var ca = TestCa("CN=Issuing CA");
        using var key = SoftwareCertificateKey.Create();
        var time = new SteppingTimeProvider();
        var cache = new MemoryCache();
        var handler = new ScriptedHttpHandler { Clock = time }
            .Then((request, _) => Task.FromResult(ScriptedHttpHandler.Response(HttpStatusCode.OK, AssignedWithChain(Issue(request, ca, time.GetUtcNow().AddMinutes(-1), time.GetUtcNow().AddDays(1)), ca))))
            .Then((request, _) => Task.FromResult(ScriptedHttpHandler.Response(HttpStatusCode.OK, AssignedWithChain(Issue(request, ca, time.GetUtcNow().AddMinutes(-1), time.GetUtcNow().AddDays(1)), ca))));
        var options = Options(time);
        options.RegistrationCache = cache;
        using var client = TestClients.Create(handler, TestClients.SymmetricKey(), options);
        var request = new ProvisioningRegistrationRequest { CertificateSigningKey = key };

        var first = await client.RegisterAsync(request, Ct);
        var cached = await client.RegisterAsync(request, Ct);
        time.Advance(TimeSpan.FromDays(2)); // the cached certificate expired: the service is asked again
        var renewed = await client.RegisterAsync(request, Ct);

        Assert.True(cached.IsFromCache);
        Assert.Equal(first.IssuedCertificateChain, cached.IssuedCertificateChain);
        Assert.Same(key, cached.CertificateSigningKey);
        Assert.False(renewed.IsFromCache);
        Assert.NotEqual(first.IssuedCertificateChain[0], renewed.IssuedCertificateChain[0]);
        Assert.Equal(2, handler.Requests.Count);
        Assert.Equal(renewed.IssuedCertificateChain, cache.Entry!.IssuedCertificateChain);
    }

    [Theory]
    [InlineData("2019-03-31", null)]
    [InlineData("2021-06-01", typeof(ArgumentException))]
    [InlineData("2021-11-01-preview", typeof(ArgumentException))]
    public async Task Register_WithKeyOnAnApiVersionWithoutCsr_IsRefusedBeforeSending(string apiVersion, Type? expected)
    {
        using var key = SoftwareCertificateKey.Create();
        var handler = new ScriptedHttpHandler().ThenRespond(HttpStatusCode.OK, Dps.Error(400001));
        using var client = TestClients.Create(handler, TestClients.SymmetricKey(), Options());

        var thrown = await Record.ExceptionAsync(() => client.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = key, ApiVersion = apiVersion }, Ct));

        if (expected is null)
        {
            Assert.Contains("api-version=2025-07-01-preview", Assert.Single(handler.Requests).Uri.Query, StringComparison.Ordinal); // the default is replaced
        }
        else
        {
            Assert.IsType(expected, thrown);
            Assert.Empty(handler.Requests);
        }
    }

    [Theory]
    [InlineData(CertificateKeyAlgorithm.EccP256)]
    [InlineData(CertificateKeyAlgorithm.Rsa2048)]
    public async Task SoftwareKey_IsStoredOwnerOnly_AndReloadsAsTheSameKey(CertificateKeyAlgorithm algorithm)
    {
        var folder = Directory.CreateTempSubdirectory("csr-key-");
        try
        {
            var path = Path.Combine(folder.FullName, "new", "key.p8");
            using var created = await SoftwareCertificateKey.LoadOrCreateAsync(path, algorithm, Ct);
            using var loaded = await SoftwareCertificateKey.LoadOrCreateAsync(path, algorithm, Ct);

            Assert.Equal(created.SubjectPublicKeyInfo.ToArray(), loaded.SubjectPublicKeyInfo.ToArray());
            Assert.Equal(algorithm, loaded.Algorithm);
            Assert.Equal(CertificateKeyLocation.Software, loaded.Location);
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(Path.GetDirectoryName(path)!));
            }

            Assert.Single(Directory.GetFiles(Path.GetDirectoryName(path)!)); // no temporary left behind
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task SoftwareKey_Successor_IsWrittenBesideIt_RetireDeletesOnlyItsOwnFile_AndReopenFindsTheMovedKey()
    {
        var folder = Directory.CreateTempSubdirectory("csr-key-");
        try
        {
            var path = Path.Combine(folder.FullName, "key.p8");
            using var key = await SoftwareCertificateKey.LoadOrCreateAsync(path, cancellationToken: Ct);
            var original = await File.ReadAllBytesAsync(path, Ct);

            using var successor = await key.CreateSuccessorAsync(Ct);

            Assert.Equal(path + ".alt", successor.Path);
            Assert.Equal(path, successor.AlternatePath);
            Assert.Equal(original, await File.ReadAllBytesAsync(path, Ct)); // the key in use is untouched
            Assert.NotEqual(key.SubjectPublicKeyInfo.ToArray(), successor.SubjectPublicKeyInfo.ToArray());
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(successor.Path!));
            }

            // A key object whose file now holds another key deletes nothing.
            using var stale = await SoftwareCertificateKey.LoadOrCreateAsync(path, cancellationToken: Ct);
            await File.WriteAllBytesAsync(path, await File.ReadAllBytesAsync(successor.Path!, Ct), Ct);
            await stale.RetireAsync(Ct);
            Assert.True(File.Exists(path));
            await File.WriteAllBytesAsync(path, original, Ct);

            await key.RetireAsync(Ct);
            Assert.False(File.Exists(path));
            using var reopened = await SoftwareCertificateKey.LoadOrCreateAsync(path, cancellationToken: Ct);
            Assert.Equal(successor.Path, reopened.Path);
            Assert.Equal(successor.SubjectPublicKeyInfo.ToArray(), reopened.SubjectPublicKeyInfo.ToArray());
            Assert.False(File.Exists(path)); // no new key was made at the first path
            Assert.Single(Directory.GetFiles(folder.FullName));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task SoftwareKey_FileThatIsNotAKey_IsRefused()
    {
        var path = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(path, [0x30, 0x03, 0x02, 0x01, 0x00], Ct);

            await Assert.ThrowsAsync<InvalidDataException>(() => SoftwareCertificateKey.LoadOrCreateAsync(path, cancellationToken: Ct));
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static ProvisioningClientOptions Options(TimeProvider? time = null)
    {
        var options = TestClients.Options(time);
        return options;
    }

    private static X509Certificate2 TestCa(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddYears(-1), DateTimeOffset.UtcNow.AddYears(5));
    }

    private static string Issue(RecordedRequest request, X509Certificate2 ca, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, bool isCa = false)
    {
        using var body = JsonDocument.Parse(request.Body!);
        return Issue(Convert.FromBase64String(body.RootElement.GetProperty("csr").GetString()!), ca, notBefore, notAfter, isCa);
    }

    private static string Issue(byte[] csr, X509Certificate2 ca, DateTimeOffset? notBefore = null, DateTimeOffset? notAfter = null, bool isCa = false)
    {
        var request = CertificateRequest.LoadSigningRequest(csr, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(isCa, false, 0, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var issued = request.Create(ca, notBefore ?? DateTimeOffset.UtcNow.AddMinutes(-5), notAfter ?? DateTimeOffset.UtcNow.AddDays(30), RandomNumberGenerator.GetBytes(8));
        return Convert.ToBase64String(issued.RawData);
    }

    private static string AssignedWithChain(string leaf, X509Certificate2? root)
    {
        string chain = root is null ? $"[\"{leaf}\"]" : $"[\"{leaf}\",\"{Convert.ToBase64String(root.RawData)}\"]";
        return Dps.Assigned().Replace("\"etag\"", $"\"issuedCertificateChain\":{chain},\"etag\"", StringComparison.Ordinal);
    }

    private sealed class MemoryCache : IRegistrationCache
    {
        public CachedRegistration? Entry { get; private set; }

        public ValueTask<CachedRegistration?> LoadAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(Entry);

        public ValueTask SaveAsync(CachedRegistration registration, CancellationToken cancellationToken = default)
        {
            Entry = registration;
            return default;
        }

        public ValueTask InvalidateAsync(CancellationToken cancellationToken = default)
        {
            Entry = null;
            return default;
        }
    }
}

/// <summary>The tpm2-openssl provider's TCTI for each transport spec (issue 16).</summary>
public sealed class TpmProviderTctiTests
{
    [Theory]
    [InlineData("swtpm:127.0.0.1:2321", "swtpm:host=127.0.0.1,port=2321")]
    [InlineData("mssim:localhost:2321", "mssim:host=localhost,port=2321")]
    [InlineData("swtpm:[::1]:2321", "swtpm:host=::1,port=2321")]
    [InlineData("device", "device:/dev/tpmrm0")]
    [InlineData("device:/dev/tpm0", "device:/dev/tpm0")]
    [InlineData("software", null)]
    [InlineData("unix:/run/swtpm.sock", null)]
    [InlineData(null, null)]
    public void TctiFor_MapsTheTransportSpec(string? spec, string? tcti) => Assert.Equal(tcti, TpmProviderKey.TctiFor(spec));

    [Fact]
    public void ProviderModule_IsLookedForInOpenSslModules_ThenInOpenSslsModulesDirectory()
    {
        var withModule = Directory.CreateTempSubdirectory("ossl-modules-");
        var empty = Directory.CreateTempSubdirectory("ossl-empty-");
        try
        {
            var module = Path.Combine(withModule.FullName, "tpm2.so");
            File.WriteAllBytes(module, []);
            Assert.Equal(module, TpmProviderKey.FindProviderModule(withModule.FullName, empty.FullName));
            Assert.Equal(module, TpmProviderKey.FindProviderModule(null, withModule.FullName));
            Assert.Equal(module, TpmProviderKey.FindProviderModule("", withModule.FullName));
            Assert.Null(TpmProviderKey.FindProviderModule(empty.FullName, withModule.FullName)); // OPENSSL_MODULES wins, as in OpenSSL
            Assert.Null(TpmProviderKey.FindProviderModule(null, null));
        }
        finally
        {
            withModule.Delete(recursive: true);
            empty.Delete(recursive: true);
        }
    }

    [Fact]
    public void MissingProvider_SaysWhatToInstall_AndWhereItLooked()
    {
        var message = TpmProviderKey.MissingProviderMessage("/opt/ossl-modules");
        Assert.Contains("apt-get install tpm2-openssl", message, StringComparison.Ordinal);
        Assert.Contains("no tpm2.so in /opt/ossl-modules", message, StringComparison.Ordinal);
        Assert.Contains("libtss2-tcti-", message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TlsWithAnRsaTpmKey_IsRefusedWithTheReason_BeforeTheProviderIsOpened()
    {
        if (!OperatingSystem.IsLinux())
        {
            Assert.Skip("TLS with a TPM key is Linux-only; other platforms refuse it earlier.");
        }

        var ct = TestContext.Current.CancellationToken;
        await using var tpm = Provisioning.Device.Tpm.TpmIdentity.Open("software");
        using var key = await TpmCertificateKey.OpenAsync(tpm, CertificateKeyAlgorithm.Rsa2048, cancellationToken: ct);
        using var rsa = RSA.Create(2048);
        using var certificate = new CertificateRequest("CN=rsa", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));
        using var publicOnly = X509CertificateLoader.LoadCertificate(certificate.RawData);

        var refused = Assert.Throws<PlatformNotSupportedException>(() => key.AttachTo(publicOnly));
        Assert.Contains("RSA-PSS", refused.Message, StringComparison.Ordinal);
        Assert.Contains("ECC P-256", refused.Message, StringComparison.Ordinal);
    }
}

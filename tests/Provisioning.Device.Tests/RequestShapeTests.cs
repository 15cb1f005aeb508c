using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests;

public sealed class RequestShapeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<RecordedRequest> RegisterOnceAsync(ProvisioningAttestation attestation, ProvisioningRegistrationRequest? request = null)
    {
        var handler = new ScriptedHttpHandler().ThenRespond(HttpStatusCode.OK, Dps.Assigned());
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation);
        await client.RegisterAsync(request, Ct);
        return Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Register_WithSymmetricKey_PutsTheRegistrationIdAndASignedSas()
    {
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();

        RecordedRequest put = await RegisterOnceAsync(attestation);

        Assert.Equal(HttpMethod.Put, put.Method);
        Assert.Equal("https://dps.test/0ne00000001/registrations/device-01/register?api-version=2019-03-31", put.Uri.ToString());
        Assert.Equal("""{"registrationId":"device-01"}""", put.Body);
        Assert.Equal("application/json; charset=utf-8", put.ContentType);
        SasAssert.Valid(put.Authorization, Convert.FromBase64String(Dps.Key), "0ne00000001/registrations/device-01", "registration");
    }

    [Fact]
    public async Task Register_WithAPayload_SendsItVerbatim()
    {
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();

        RecordedRequest put = await RegisterOnceAsync(attestation, new() { JsonPayload = """{"a":[1,2],"b":{"c":null}}""" });

        Assert.Equal("""{"registrationId":"device-01","payload":{"a":[1,2],"b":{"c":null}}}""", put.Body);
    }

    [Fact]
    public async Task Register_WithAModelId_SendsItAsThePayload()
    {
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();

        RecordedRequest put = await RegisterOnceAsync(attestation, new() { ModelId = "dtmi:contoso:thermostat;1" });

        Assert.Equal("""{"registrationId":"device-01","payload":{"modelId":"dtmi:contoso:thermostat;1"}}""", put.Body);
    }

    [Fact]
    public async Task Register_WithAModelIdAndAPayloadObject_MergesThem()
    {
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();

        RecordedRequest put = await RegisterOnceAsync(attestation, new() { ModelId = "dtmi:x;1", JsonPayload = """{"site":"north"}""" });

        Assert.Equal("""{"registrationId":"device-01","payload":{"modelId":"dtmi:x;1","site":"north"}}""", put.Body);
    }

    [Theory]
    [InlineData("not JSON", "{oops", null)]
    [InlineData("model id with an array payload", "[1]", "dtmi:x;1")]
    public async Task Register_WithABadPayload_ThrowsArgumentExceptionBeforeSending(string @case, string payload, string? modelId)
    {
        Assert.NotNull(@case);
        var handler = new ScriptedHttpHandler();
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation);

        await Assert.ThrowsAnyAsync<ArgumentException>(() => client.RegisterAsync(new() { JsonPayload = payload, ModelId = modelId }, Ct));
        Assert.Empty(handler.Requests);
    }

    [Fact]
    public async Task Register_WithAnotherApiVersionAndAnEscapedId_BuildsTheUri()
    {
        using var attestation = new SymmetricKeyAttestation("dev 01/x", Dps.Key);

        RecordedRequest put = await RegisterOnceAsync(attestation, new() { ApiVersion = "2021-06-01" });

        Assert.Equal("/0ne00000001/registrations/dev%2001%2Fx/register", put.Uri.AbsolutePath);
        Assert.Equal("?api-version=2021-06-01", put.Uri.Query);
    }

    [Fact]
    public async Task Register_WithX509_SendsNoAuthorizationAndTheCertificateName()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=x509-device", key, HashAlgorithmName.SHA256);
        using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using var attestation = new X509Attestation(certificate);

        RecordedRequest put = await RegisterOnceAsync(attestation);

        Assert.Null(put.Authorization);
        Assert.Equal("""{"registrationId":"x509-device"}""", put.Body);
        Assert.False(attestation.CanCreateSasTokens);
        Assert.NotNull(attestation.ClientCertificateContext);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await attestation.CreateSasTokenAsync("r", DateTimeOffset.UtcNow, cancellationToken: Ct));
    }

    [Fact]
    public void X509Attestation_WithoutAPrivateKey_ThrowsArgumentException()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using X509Certificate2 withKey = new CertificateRequest("CN=x", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        using X509Certificate2 publicOnly = X509CertificateLoader.LoadCertificate(withKey.RawData);

        Assert.Throws<ArgumentException>(() => new X509Attestation(publicOnly));
    }

    [Theory]
    [InlineData("host only", "dps.example.net", "https://dps.example.net/0ne00000001/")]
    [InlineData("host and port", "localhost:8443", "https://localhost:8443/0ne00000001/")]
    [InlineData("https uri with a path", "https://proxy.example/dps/", "https://proxy.example/dps/0ne00000001/")]
    public async Task Client_AcceptsEndpointForms(string @case, string endpoint, string expectedPrefix)
    {
        Assert.NotNull(@case);
        var handler = new ScriptedHttpHandler().ThenRespond(HttpStatusCode.OK, Dps.Assigned());
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient(endpoint, Dps.IdScope, attestation, TestClients.Options(), handler);

        await client.RegisterAsync(cancellationToken: Ct);

        Assert.StartsWith(expectedPrefix, handler.Requests[0].Uri.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http scheme", "http://dps.example.net")]
    [InlineData("query", "https://dps.example.net/?a=b")]
    public void Client_RejectsBadEndpoints(string @case, string endpoint)
    {
        Assert.NotNull(@case);
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        Assert.Throws<ArgumentException>(() => new ProvisioningDeviceClient(endpoint, Dps.IdScope, attestation));
    }
}

internal static class SasAssert
{
    /// <summary>Checks a DPS/hub SAS: the resource, the key name, and the HMAC over the encoded sr and se.</summary>
    public static void Valid(string? token, byte[] key, string resource, string? keyName)
    {
        Assert.NotNull(token);
        Assert.StartsWith("SharedAccessSignature ", token, StringComparison.Ordinal);
        Dictionary<string, string> fields = token["SharedAccessSignature ".Length..].Split('&')
            .Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal(Uri.EscapeDataString(resource), fields["sr"]);
        Assert.Equal(keyName, fields.GetValueOrDefault("skn"));
        byte[] expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(fields["sr"] + "\n" + fields["se"]));
        Assert.Equal(Convert.ToBase64String(expected), Uri.UnescapeDataString(fields["sig"]));
    }
}

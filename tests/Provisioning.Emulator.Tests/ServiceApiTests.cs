using System.Net;

using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

public sealed class ServiceApiTests : IAsyncLifetime
{
    private const string V = "api-version=2021-10-01";
    private DpsEmulator _dps = null!;
    private HttpClient _client = null!;
    private string _sas = null!;

    public async ValueTask InitializeAsync()
    {
        _dps = await TestDps.StartAsync();
        _client = TestDps.Client(_dps);
        _sas = ServiceSas.FromConnectionString(_dps.ServiceConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _dps.DisposeAsync();
    }

    private Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body = null, string? sas = null) =>
        _client.SendAsync(TestDps.Request(method, path, body, sas ?? _sas), TestContext.Current.CancellationToken);

    [Fact]
    public async Task PutEnrollment_WithSymmetricKey_GeneratesKeysAndTheDeviceCanRegister()
    {
        using var put = await SendAsync(HttpMethod.Put, $"enrollments/svc-01?{V}",
            "{\"registrationId\":\"svc-01\",\"attestation\":{\"type\":\"symmetricKey\"},\"deviceId\":\"svc-device\",\"initialTwin\":{\"properties\":{\"desired\":{\"a\":1}}},\"reprovisionPolicy\":{\"updateHubAssignment\":true,\"migrateDeviceData\":false},\"capabilities\":{\"iotEdge\":true}}");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var created = await TestDps.JsonAsync(put);
        var primary = created.GetProperty("attestation").GetProperty("symmetricKey").GetProperty("primaryKey").GetString()!;
        Assert.Equal("enabled", created.GetProperty("provisioningStatus").GetString());
        Assert.False(string.IsNullOrEmpty(created.GetProperty("etag").GetString()));

        var final = await TestDps.RegisterToEndAsync(_client, _dps, "svc-01", TestSas.ForDevice(primary, _dps.IdScope, "svc-01"));
        Assert.Equal("svc-device", final.GetProperty("registrationState").GetProperty("deviceId").GetString());
        Assert.Equal("{\"a\":1}", (await _dps.HubRegistry.FindAsync("hub1.localhost", "svc-device", TestContext.Current.CancellationToken))!.InitialTwin);

        using var get = await SendAsync(HttpMethod.Get, $"enrollments/svc-01?{V}");
        var read = await TestDps.JsonAsync(get);
        Assert.Equal("assigned", read.GetProperty("registrationState").GetProperty("status").GetString());
        Assert.True(read.GetProperty("capabilities").GetProperty("iotEdge").GetBoolean());

        using var registration = await SendAsync(HttpMethod.Get, $"registrations/svc-01?{V}");
        Assert.Equal(HttpStatusCode.OK, registration.StatusCode);
        Assert.Equal("hub1.localhost", (await TestDps.JsonAsync(registration)).GetProperty("assignedHub").GetString());
    }

    [Fact]
    public async Task PutEnrollmentGroup_WithX509Signer_FillsCertificateInfo_AndQueryListsIt()
    {
        using var root = TestCertificates.Root("Service Root");
        using var put = await SendAsync(HttpMethod.Put, $"enrollmentGroups/grp?{V}",
            $"{{\"enrollmentGroupId\":\"grp\",\"attestation\":{{\"type\":\"x509\",\"x509\":{{\"signingCertificates\":{{\"primary\":{{\"certificate\":\"{Convert.ToBase64String(root.RawData)}\"}}}}}}}}}}");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var info = (await TestDps.JsonAsync(put)).GetProperty("attestation").GetProperty("x509").GetProperty("signingCertificates").GetProperty("primary").GetProperty("info");
        Assert.Equal(root.Thumbprint, info.GetProperty("sha1Thumbprint").GetString());

        using var query = await SendAsync(HttpMethod.Post, $"enrollmentGroups/query?{V}", "{\"query\":\"*\"}");
        var list = await TestDps.JsonAsync(query);
        Assert.Equal("grp", Assert.Single(list.EnumerateArray()).GetProperty("enrollmentGroupId").GetString());

        using var leaf = TestCertificates.Leaf(root, "grp-dev");
        using var deviceClient = TestDps.Client(_dps, leaf);
        await TestDps.RegisterToEndAsync(deviceClient, _dps, "grp-dev", sas: null);
        using var registrations = await SendAsync(HttpMethod.Post, $"registrations/grp/query?{V}", "{\"query\":\"*\"}");
        Assert.Equal("grp-dev", Assert.Single((await TestDps.JsonAsync(registrations)).EnumerateArray()).GetProperty("registrationId").GetString());
    }

    [Fact]
    public async Task PutEnrollment_WithTpmEndorsementKey_IsStoredAndQueried()
    {
        using var put = await SendAsync(HttpMethod.Put, $"enrollments/tpm-svc?{V}",
            $"{{\"registrationId\":\"tpm-svc\",\"attestation\":{{\"type\":\"tpm\",\"tpm\":{{\"endorsementKey\":\"{Convert.ToBase64String(Tpm.TpmTestKeys.Ek(Tpm.TpmTestKeys.SampleModulus()))}\"}}}}}}");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);

        using var query = await SendAsync(HttpMethod.Post, $"enrollments/query?{V}", "{\"query\":\"SELECT * FROM enrollments\"}");
        Assert.Contains((await TestDps.JsonAsync(query)).EnumerateArray(), e => e.GetProperty("registrationId").GetString() == "tpm-svc");
    }

    [Fact]
    public async Task DeleteEnrollment_ThenGet_Answers404001()
    {
        await _dps.Enrollments.AddSymmetricKeyAsync("gone", cancellationToken: TestContext.Current.CancellationToken);

        using var delete = await SendAsync(HttpMethod.Delete, $"enrollments/gone?{V}");
        using var get = await SendAsync(HttpMethod.Get, $"enrollments/gone?{V}");

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        await TestDps.AssertErrorAsync(get, HttpStatusCode.NotFound, 404001);
    }

    [Fact]
    public async Task PutEnrollment_WithStaleIfMatch_Answers412001()
    {
        await _dps.Enrollments.AddSymmetricKeyAsync("etag", cancellationToken: TestContext.Current.CancellationToken);
        using var request = TestDps.Request(HttpMethod.Put, $"enrollments/etag?{V}", "{\"registrationId\":\"etag\",\"attestation\":{\"type\":\"symmetricKey\"}}", _sas);
        request.Headers.TryAddWithoutValidation("If-Match", "\"stale\"");

        using var response = await _client.SendAsync(request, TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(response, HttpStatusCode.PreconditionFailed, 412001);
    }

    [Theory]
    [InlineData("{\"registrationId\":\"bad\",\"attestation\":{\"type\":\"magic\"}}")]
    [InlineData("{\"registrationId\":\"bad\",\"attestation\":{\"type\":\"symmetricKey\",\"symmetricKey\":{\"primaryKey\":\"not base64!\"}}}")]
    [InlineData("{\"registrationId\":\"other\",\"attestation\":{\"type\":\"symmetricKey\"}}")]
    [InlineData("{\"registrationId\":\"bad\",\"attestation\":{\"type\":\"x509\"}}")]
    public async Task PutEnrollment_WithInvalidContent_Answers400007(string body)
    {
        using var response = await SendAsync(HttpMethod.Put, $"enrollments/bad?{V}", body);
        await TestDps.AssertErrorAsync(response, HttpStatusCode.BadRequest, 400007);
    }

    [Fact]
    public async Task PutEnrollment_WithMalformedJson_Answers400001()
    {
        using var response = await SendAsync(HttpMethod.Put, $"enrollments/bad?{V}", "{\"registrationId\":");
        await TestDps.AssertErrorAsync(response, HttpStatusCode.BadRequest, 400001);
    }

    [Fact]
    public async Task ServiceApi_WithDeviceOnlyApiVersion_Answers400002()
    {
        using var response = await SendAsync(HttpMethod.Get, "enrollments/x?api-version=2021-06-01");
        await TestDps.AssertErrorAsync(response, HttpStatusCode.BadRequest, 400002);
    }

    [Fact]
    public async Task ServiceApi_WithoutToken_Answers401002()
    {
        using var response = await _client.SendAsync(TestDps.Request(HttpMethod.Get, $"enrollments/x?{V}", null, null), TestContext.Current.CancellationToken);
        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task ServiceApi_WithExpiredToken_Answers401003()
    {
        using var response = await SendAsync(HttpMethod.Get, $"enrollments/x?{V}", sas: ServiceSas.FromConnectionString(_dps.ServiceConnectionString, TimeSpan.FromMinutes(-10)));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401003);
    }

    [Fact]
    public async Task ServiceApi_WithDeviceToken_Answers401002()
    {
        var keys = await _dps.Enrollments.AddSymmetricKeyAsync("dev", cancellationToken: TestContext.Current.CancellationToken);
        using var response = await SendAsync(HttpMethod.Get, $"enrollments/dev?{V}", sas: TestSas.ForDevice(keys.PrimaryKey, _dps.IdScope, "dev"));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task DeleteRegistration_ThenGet_Answers404001()
    {
        var keys = await _dps.Enrollments.AddSymmetricKeyAsync("r1", cancellationToken: TestContext.Current.CancellationToken);
        await TestDps.RegisterToEndAsync(_client, _dps, "r1", TestSas.ForDevice(keys.PrimaryKey, _dps.IdScope, "r1"));

        using var delete = await SendAsync(HttpMethod.Delete, $"registrations/r1?{V}");
        using var get = await SendAsync(HttpMethod.Get, $"registrations/r1?{V}");

        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        await TestDps.AssertErrorAsync(get, HttpStatusCode.NotFound, 404001);
    }

    [Fact]
    public async Task PutEnrollmentGroup_WithCaReference_UsesTheRegisteredCa()
    {
        using var root = TestCertificates.Root("Referenced Root");
        _dps.Enrollments.RegisterCaCertificate("my-ca", root);

        using var put = await SendAsync(HttpMethod.Put, $"enrollmentGroups/ca-grp?{V}",
            "{\"enrollmentGroupId\":\"ca-grp\",\"attestation\":{\"type\":\"x509\",\"x509\":{\"caReferences\":{\"primary\":\"my-ca\"}}}}");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);

        using var leaf = TestCertificates.Leaf(root, "ca-dev");
        using var deviceClient = TestDps.Client(_dps, leaf);
        var final = await TestDps.RegisterToEndAsync(deviceClient, _dps, "ca-dev", sas: null);
        Assert.Equal("ca-grp", final.GetProperty("registrationState").GetProperty("x509").GetProperty("enrollmentGroupId").GetString());
    }

    [Fact]
    public async Task BulkCreate_WithOneExistingEnrollment_CommitsTheOthersAndReportsTheConflict()
    {
        await _dps.Enrollments.AddSymmetricKeyAsync("bulk-1", cancellationToken: TestContext.Current.CancellationToken);

        using var response = await SendAsync(HttpMethod.Post, $"enrollments?{V}",
            "{\"mode\":\"create\",\"enrollments\":[{\"registrationId\":\"bulk-1\",\"attestation\":{\"type\":\"symmetricKey\"}},{\"registrationId\":\"bulk-2\",\"attestation\":{\"type\":\"symmetricKey\"}},{\"registrationId\":\"bulk-3\",\"attestation\":{\"type\":\"nope\"}}]}");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var result = await TestDps.JsonAsync(response);
        Assert.False(result.GetProperty("isSuccessful").GetBoolean());
        var errors = result.GetProperty("errors").EnumerateArray().ToDictionary(e => e.GetProperty("registrationId").GetString()!, e => e.GetProperty("errorCode").GetInt32());
        Assert.Equal(409001, errors["bulk-1"]);
        Assert.Equal(400007, errors["bulk-3"]);
        Assert.Equal(2, errors.Count);
        using var created = await SendAsync(HttpMethod.Get, $"enrollments/bulk-2?{V}");
        Assert.Equal(HttpStatusCode.OK, created.StatusCode);
    }

    [Fact]
    public async Task BulkDelete_RemovesTheEnrollments()
    {
        await _dps.Enrollments.AddSymmetricKeyAsync("bulk-d", cancellationToken: TestContext.Current.CancellationToken);

        using var response = await SendAsync(HttpMethod.Post, $"enrollments?{V}", "{\"mode\":\"delete\",\"enrollments\":[{\"registrationId\":\"bulk-d\"}]}");

        Assert.True((await TestDps.JsonAsync(response)).GetProperty("isSuccessful").GetBoolean());
        using var get = await SendAsync(HttpMethod.Get, $"enrollments/bulk-d?{V}");
        await TestDps.AssertErrorAsync(get, HttpStatusCode.NotFound, 404001);
    }
}

using System.Net;
using System.Text.Json;

using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Service;

/// <summary>
/// What the official service SDK built from its preview sources and the Azure CLI's generated client send beyond the
/// basics: the preview api-versions and their optional fields, <c>optionalDeviceInformation</c>, and the enrollment group
/// bulk operation; and the bulk operations' limits. Raw HTTPS over real TLS, shaped as <see cref="ServiceSdkClient"/> sends.
/// </summary>
public sealed class ServiceApiPreviewAndBulkTests
{
    [Fact]
    public async Task Preview2025_CredentialPolicyName_IsKeptAndReturned_OnEnrollmentsAndGroups()
    {
        await using var dps = await TestDps.StartAsync();
        using var sdk = new ServiceSdkClient(dps, "2025-07-01-preview");

        // new IndividualEnrollment(id, new SymmetricKeyAttestation(null, null)) { CredentialPolicyName = "adr-policy" } as the preview SDK sends it.
        using var put = await sdk.SendAsync(HttpMethod.Put, "enrollments/adr-dev",
            "{\"registrationId\":\"adr-dev\",\"credentialPolicyName\":\"adr-policy\",\"attestation\":{\"type\":\"symmetricKey\",\"symmetricKey\":{}}}");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.Equal("adr-policy", (await TestDps.JsonAsync(put)).GetProperty("credentialPolicyName").GetString());
        using var get = await sdk.SendAsync(HttpMethod.Get, "enrollments/adr-dev");
        Assert.Equal("adr-policy", (await TestDps.JsonAsync(get)).GetProperty("credentialPolicyName").GetString());

        using var group = await sdk.SendAsync(HttpMethod.Put, "enrollmentGroups/adr-group",
            "{\"enrollmentGroupId\":\"adr-group\",\"credentialPolicyName\":\"adr-fleet\",\"attestation\":{\"type\":\"symmetricKey\",\"symmetricKey\":{}}}");
        Assert.Equal(HttpStatusCode.OK, group.StatusCode);
        var pages = await sdk.QueryAllAsync("enrollmentGroups/query", pageSize: 5);
        Assert.Equal("adr-fleet", Assert.Single(Assert.Single(pages).Items).GetProperty("credentialPolicyName").GetString());

        // Without it, the field is absent (the SDK ignores defaults when it serializes, so must the answer).
        using var plain = await sdk.SendAsync(HttpMethod.Put, "enrollments/plain", "{\"registrationId\":\"plain\",\"attestation\":{\"type\":\"symmetricKey\"}}");
        Assert.False((await TestDps.JsonAsync(plain)).TryGetProperty("credentialPolicyName", out _));
    }

    [Fact]
    public async Task Preview2021_IssuancePolicyAndTrustBundle_AreKeptAndReturned()
    {
        await using var dps = await TestDps.StartAsync();
        using var sdk = new ServiceSdkClient(dps, "2021-11-01-preview");
        using var put = await sdk.SendAsync(HttpMethod.Put, "enrollments/issued",
            "{\"registrationId\":\"issued\",\"attestation\":{\"type\":\"symmetricKey\"},\"clientCertificateIssuancePolicy\":{\"certificateAuthorityName\":\"my-ca\"},\"trustBundleId\":\"bundle-1\"}");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using var get = await sdk.SendAsync(HttpMethod.Get, "enrollments/issued");
        var body = await TestDps.JsonAsync(get);
        Assert.Equal("my-ca", body.GetProperty("clientCertificateIssuancePolicy").GetProperty("certificateAuthorityName").GetString());
        Assert.Equal("bundle-1", body.GetProperty("trustBundleId").GetString());
    }

    [Theory]
    [InlineData("\"credentialPolicyName\":\"\"", "credentialPolicyName")]
    [InlineData("\"credentialPolicyName\":\"a\\u0000b\"", "credentialPolicyName")]
    [InlineData("\"trustBundleId\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"", "trustBundleId")]
    [InlineData("\"optionalDeviceInformation\":[1,2]", "optionalDeviceInformation")]
    public async Task PutEnrollment_WithABadOptionalField_Answers400007NamingTheField(string field, string named)
    {
        await using var dps = await TestDps.StartAsync();
        using var sdk = new ServiceSdkClient(dps, "2025-07-01-preview");
        using var put = await sdk.SendAsync(HttpMethod.Put, "enrollments/bad-field",
            $"{{\"registrationId\":\"bad-field\",\"attestation\":{{\"type\":\"symmetricKey\"}},{field}}}");
        var body = await TestDps.JsonAsync(put);
        Assert.Equal(HttpStatusCode.BadRequest, put.StatusCode);
        Assert.Equal(400007, body.GetProperty("errorCode").GetInt32());
        Assert.Contains(named, body.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cli_OptionalDeviceInformation_IsKeptAndReturned()
    {
        await using var dps = await TestDps.StartAsync();
        using var sdk = new ServiceSdkClient(dps, "2021-10-01");

        // az iot dps enrollment create … --device-information "{\"model\":\"x1\"}"
        using var put = await sdk.SendAsync(HttpMethod.Put, "enrollments/with-info",
            "{\"registrationId\":\"with-info\",\"attestation\":{\"type\":\"symmetricKey\",\"symmetricKey\":{}},\"optionalDeviceInformation\":{\"model\":\"x1\",\"rev\":3},\"provisioningStatus\":\"enabled\"}");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var pages = await sdk.QueryAllAsync("enrollments/query", pageSize: 10);
        var info = Assert.Single(Assert.Single(pages).Items).GetProperty("optionalDeviceInformation");
        Assert.Equal("x1", info.GetProperty("model").GetString());
        Assert.Equal(3, info.GetProperty("rev").GetInt32());
    }

    [Fact]
    public async Task BulkGroups_CreateConflictUpdateIfMatchAndDelete()
    {
        await using var dps = await TestDps.StartAsync();
        using var sdk = new ServiceSdkClient(dps, "2021-10-01");
        await dps.Enrollments.AddSymmetricKeyGroupAsync("bulk-g1", cancellationToken: TestContext.Current.CancellationToken);

        using var create = await sdk.SendAsync(HttpMethod.Post, "enrollmentGroups",
            "{\"mode\":\"create\",\"enrollmentGroups\":[{\"enrollmentGroupId\":\"bulk-g1\",\"attestation\":{\"type\":\"symmetricKey\"}},{\"enrollmentGroupId\":\"bulk-g2\",\"attestation\":{\"type\":\"symmetricKey\"}},{\"enrollmentGroupId\":\"bulk-g3\",\"attestation\":{\"type\":\"tpm\"}}]}");
        var result = await TestDps.JsonAsync(create);
        Assert.Equal(HttpStatusCode.OK, create.StatusCode);
        Assert.False(result.GetProperty("isSuccessful").GetBoolean());
        var errors = result.GetProperty("errors").EnumerateArray().ToDictionary(e => e.GetProperty("enrollmentGroupId").GetString()!, e => e.GetProperty("errorCode").GetInt32());
        Assert.Equal(new Dictionary<string, int> { ["bulk-g1"] = 409001, ["bulk-g3"] = 400007 }, errors);

        using var get = await sdk.SendAsync(HttpMethod.Get, "enrollmentGroups/bulk-g2");
        var g2 = await TestDps.JsonAsync(get);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.False(string.IsNullOrEmpty(g2.GetProperty("attestation").GetProperty("symmetricKey").GetProperty("primaryKey").GetString()));

        var etag = g2.GetProperty("etag").GetString()!;
        using var stale = await sdk.SendAsync(HttpMethod.Post, "enrollmentGroups",
            "{\"mode\":\"updateIfMatchETag\",\"enrollmentGroups\":[{\"enrollmentGroupId\":\"bulk-g2\",\"etag\":\"\\\"stale\\\"\",\"provisioningStatus\":\"disabled\",\"attestation\":{\"type\":\"symmetricKey\"}}]}");
        Assert.Equal(412001, (await TestDps.JsonAsync(stale)).GetProperty("errors")[0].GetProperty("errorCode").GetInt32());
        using var update = await sdk.SendAsync(HttpMethod.Post, "enrollmentGroups",
            $"{{\"mode\":\"updateIfMatchETag\",\"enrollmentGroups\":[{{\"enrollmentGroupId\":\"bulk-g2\",\"etag\":{JsonSerializer.Serialize(etag)},\"provisioningStatus\":\"disabled\",\"attestation\":{{\"type\":\"symmetricKey\"}}}}]}}");
        Assert.True((await TestDps.JsonAsync(update)).GetProperty("isSuccessful").GetBoolean());
        using var disabled = await sdk.SendAsync(HttpMethod.Get, "enrollmentGroups/bulk-g2");
        Assert.Equal("disabled", (await TestDps.JsonAsync(disabled)).GetProperty("provisioningStatus").GetString());

        using var delete = await sdk.SendAsync(HttpMethod.Post, "enrollmentGroups",
            "{\"mode\":\"delete\",\"enrollmentGroups\":[{\"enrollmentGroupId\":\"bulk-g1\"},{\"enrollmentGroupId\":\"bulk-g2\"},{\"enrollmentGroupId\":\"never\"}]}");
        var deleted = await TestDps.JsonAsync(delete);
        Assert.Equal(404001, Assert.Single(deleted.GetProperty("errors").EnumerateArray()).GetProperty("errorCode").GetInt32());
        using var gone = await sdk.SendAsync(HttpMethod.Get, "enrollmentGroups/bulk-g1");
        await TestDps.AssertErrorAsync(gone, HttpStatusCode.NotFound, 404001);
    }

    [Theory]
    [InlineData("enrollments", "enrollments", "registrationId")]
    [InlineData("enrollmentGroups", "enrollmentGroups", "enrollmentGroupId")]
    public async Task Bulk_OverTenItems_Answers400007_AndCommitsNothing(string path, string list, string idField)
    {
        await using var dps = await TestDps.StartAsync();
        using var sdk = new ServiceSdkClient(dps, "2019-03-31");
        var items = string.Join(",", Enumerable.Range(0, 11).Select(i => $"{{\"{idField}\":\"many-{i}\",\"attestation\":{{\"type\":\"symmetricKey\"}}}}"));

        using var bulk = await sdk.SendAsync(HttpMethod.Post, path, $"{{\"mode\":\"create\",\"{list}\":[{items}]}}");

        await TestDps.AssertErrorAsync(bulk, HttpStatusCode.BadRequest, 400007);
        using var get = await sdk.SendAsync(HttpMethod.Get, $"{path}/many-0");
        await TestDps.AssertErrorAsync(get, HttpStatusCode.NotFound, 404001);
    }

    [Fact]
    public async Task Bulk_TheSameIdTwice_ReportsTheSecond_AndCommitsTheFirst()
    {
        await using var dps = await TestDps.StartAsync();
        using var sdk = new ServiceSdkClient(dps, "2019-03-31");

        using var bulk = await sdk.SendAsync(HttpMethod.Post, "enrollments",
            "{\"mode\":\"create\",\"enrollments\":[{\"registrationId\":\"twice\",\"attestation\":{\"type\":\"symmetricKey\"}},{\"registrationId\":\"TWICE\",\"attestation\":{\"type\":\"symmetricKey\"}}]}");

        var error = Assert.Single((await TestDps.JsonAsync(bulk)).GetProperty("errors").EnumerateArray());
        Assert.Equal("TWICE", error.GetProperty("registrationId").GetString());
        Assert.Equal(400007, error.GetProperty("errorCode").GetInt32());
        using var get = await sdk.SendAsync(HttpMethod.Get, "enrollments/twice");
        Assert.Equal("twice", (await TestDps.JsonAsync(get)).GetProperty("registrationId").GetString());
    }
}

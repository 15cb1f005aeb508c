using System.Net;

using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Service;

/// <summary>
/// The service API as the official service clients call it (<see cref="ServiceSdkClient"/>): every api-version they send,
/// create / get / query with paging / delete of enrollments and groups, registration states, and the HostName of the
/// connection string without a port on 443.
/// </summary>
public sealed class OfficialServiceClientTests
{
    /// <summary>The C# SDK v1 (and its two preview branches), the Azure CLI and SDK v2, and older C / Java / Node / Python service clients.</summary>
    public static TheoryData<string> ApiVersions => ["2019-03-31", "2021-10-01", "2025-07-01-preview", "2021-11-01-preview", "2018-09-01-preview", "2018-04-01", "2017-11-15", "2017-08-31-preview", "2019-01-15", "2019-02-15-preview"];

    [Theory]
    [MemberData(nameof(ApiVersions))]
    public async Task IndividualEnrollments_CreateGetQueryPagedDelete_WithEachApiVersion(string apiVersion)
    {
        await using var dps = await TestDps.StartAsync();
        using var sdk = new ServiceSdkClient(dps, apiVersion);
        for (var i = 5; i >= 1; i--)
        {
            // The SDK's JSON for new IndividualEnrollment(id, new SymmetricKeyAttestation(null, null)) { Capabilities = … }.
            using var put = await sdk.SendAsync(HttpMethod.Put, $"enrollments/sdk-{i}",
                $"{{\"registrationId\":\"sdk-{i}\",\"attestation\":{{\"type\":\"symmetricKey\",\"symmetricKey\":{{}}}},\"provisioningStatus\":\"enabled\",\"capabilities\":{{\"iotEdge\":false}}}}");
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }

        using var get = await sdk.SendAsync(HttpMethod.Get, "enrollments/sdk-3");
        var enrollment = await TestDps.JsonAsync(get);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        Assert.Equal("sdk-3", enrollment.GetProperty("registrationId").GetString());
        Assert.False(string.IsNullOrEmpty(enrollment.GetProperty("attestation").GetProperty("symmetricKey").GetProperty("primaryKey").GetString()));

        var pages = await sdk.QueryAllAsync("enrollments/query", pageSize: 2);
        Assert.Equal([2, 2, 1], pages.Select(p => p.Items.Count));
        Assert.All(pages, p => Assert.Equal("Enrollment", p.ItemType));
        Assert.Null(pages[^1].Continuation);
        Assert.Equal(["sdk-1", "sdk-2", "sdk-3", "sdk-4", "sdk-5"], pages.SelectMany(p => p.Items).Select(e => e.GetProperty("registrationId").GetString()));

        // DeleteIndividualEnrollmentAsync(enrollment) sends the etag it read, quoted.
        using var delete = await sdk.SendAsync(HttpMethod.Delete, "enrollments/sdk-3", ifMatch: enrollment.GetProperty("etag").GetString());
        Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        using var stale = await sdk.SendAsync(HttpMethod.Delete, "enrollments/sdk-4", ifMatch: "AAAAAAAAAAA=");
        await TestDps.AssertErrorAsync(stale, HttpStatusCode.PreconditionFailed, 412001);
        using var gone = await sdk.SendAsync(HttpMethod.Get, "enrollments/sdk-3");
        await TestDps.AssertErrorAsync(gone, HttpStatusCode.NotFound, 404001);
    }

    [Theory]
    [MemberData(nameof(ApiVersions))]
    public async Task EnrollmentGroups_AndRegistrationStates_WithEachApiVersion(string apiVersion)
    {
        await using var dps = await TestDps.StartAsync();
        using var sdk = new ServiceSdkClient(dps, apiVersion);
        using var put = await sdk.SendAsync(HttpMethod.Put, "enrollmentGroups/sdk-group",
            "{\"enrollmentGroupId\":\"sdk-group\",\"attestation\":{\"type\":\"symmetricKey\",\"symmetricKey\":{}},\"provisioningStatus\":\"enabled\"}");
        var group = await TestDps.JsonAsync(put);
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var groupKey = group.GetProperty("attestation").GetProperty("symmetricKey").GetProperty("primaryKey").GetString()!;

        using var device = TestDps.Client(dps);
        foreach (var id in new[] { "sdk-dev-c", "sdk-dev-a", "sdk-dev-b" })
        {
            await TestDps.RegisterToEndAsync(device, dps, id, TestSas.ForDevice(TestSas.DeriveDeviceKey(groupKey, id), dps.IdScope, id));
        }

        using var get = await sdk.SendAsync(HttpMethod.Get, "enrollmentGroups/sdk-group");
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var groups = await sdk.QueryAllAsync("enrollmentGroups/query", pageSize: 10);
        Assert.Equal("EnrollmentGroup", Assert.Single(groups).ItemType);

        var states = await sdk.QueryAllAsync("registrations/sdk-group/query", pageSize: 2);
        Assert.All(states, p => Assert.Equal("DeviceRegistration", p.ItemType));
        Assert.Equal(["sdk-dev-a", "sdk-dev-b", "sdk-dev-c"], states.SelectMany(p => p.Items).Select(s => s.GetProperty("registrationId").GetString()));

        using var state = await sdk.SendAsync(HttpMethod.Get, "registrations/sdk-dev-b");
        Assert.Equal("assigned", (await TestDps.JsonAsync(state)).GetProperty("status").GetString());
        using var deleteState = await sdk.SendAsync(HttpMethod.Delete, "registrations/sdk-dev-b");
        Assert.Equal(HttpStatusCode.NoContent, deleteState.StatusCode);

        using var attestation = await sdk.SendAsync(HttpMethod.Post, "enrollmentGroups/sdk-group/attestationmechanism");
        Assert.Equal("symmetricKey", (await TestDps.JsonAsync(attestation)).GetProperty("type").GetString());

        using var deleteGroup = await sdk.SendAsync(HttpMethod.Delete, "enrollmentGroups/sdk-group", ifMatch: (await TestDps.JsonAsync(get)).GetProperty("etag").GetString());
        Assert.Equal(HttpStatusCode.NoContent, deleteGroup.StatusCode);
    }

    [Fact]
    public async Task EnrollmentQuery_OmitsRegistrationState_WhichOnlyAGetCarries()
    {
        // As the service answers (Azure/azure-iot-sdk-csharp#3478: queried enrollments have no RegistrationState).
        await using var dps = await TestDps.StartAsync();
        using var sdk = new ServiceSdkClient(dps, "2019-03-31");
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("queried", cancellationToken: TestContext.Current.CancellationToken);
        using var device = TestDps.Client(dps);
        await TestDps.RegisterToEndAsync(device, dps, "queried", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "queried"));

        using var get = await sdk.SendAsync(HttpMethod.Get, "enrollments/queried");
        Assert.Equal("assigned", (await TestDps.JsonAsync(get)).GetProperty("registrationState").GetProperty("status").GetString());
        var pages = await sdk.QueryAllAsync("enrollments/query", pageSize: 10);
        Assert.False(Assert.Single(Assert.Single(pages).Items).TryGetProperty("registrationState", out _));
    }

    [Fact]
    public async Task Query_PageSizeDefaultsToAllAndBadPagingHeadersAre400()
    {
        await using var dps = await TestDps.StartAsync();
        using var sdk = new ServiceSdkClient(dps, "2019-03-31");
        for (var i = 0; i < 3; i++)
        {
            await dps.Enrollments.AddSymmetricKeyAsync($"q-{i}", cancellationToken: TestContext.Current.CancellationToken);
        }

        using var all = await sdk.SendAsync(HttpMethod.Post, "enrollments/query", "{\"query\":\"*\"}");
        Assert.Equal(3, (await TestDps.JsonAsync(all)).GetArrayLength());
        Assert.False(all.Headers.Contains("x-ms-continuation"));

        using var badToken = await sdk.SendAsync(HttpMethod.Post, "enrollments/query", "{\"query\":\"*\"}", headers: new Dictionary<string, string> { ["x-ms-continuation"] = "not base64 !" });
        await TestDps.AssertErrorAsync(badToken, HttpStatusCode.BadRequest, 400007);
        using var badCount = await sdk.SendAsync(HttpMethod.Post, "enrollments/query", "{\"query\":\"*\"}", headers: new Dictionary<string, string> { ["x-ms-max-item-count"] = "-1" });
        await TestDps.AssertErrorAsync(badCount, HttpStatusCode.BadRequest, 400007);
    }

    [Fact]
    public async Task UnknownApiVersion_Answers400002()
    {
        await using var dps = await TestDps.StartAsync();
        using var sdk = new ServiceSdkClient(dps, "2016-01-01");
        using var get = await sdk.SendAsync(HttpMethod.Get, "enrollments/x");
        await TestDps.AssertErrorAsync(get, HttpStatusCode.BadRequest, 400002);
    }

    [Fact]
    public void ServiceHost_OmitsThePortOnlyOn443()
    {
        Assert.Equal("localhost", DpsEmulator.ServiceHost("localhost", 443));
        Assert.Equal("localhost:8443", DpsEmulator.ServiceHost("localhost", 8443));
    }

    [Fact]
    public async Task OnPort443_TheConnectionStringHostNameHasNoPort_AndTheSdkWorks()
    {
        DpsEmulator dps;
        try
        {
            dps = await TestDps.StartAsync(o => o.Port = 443);
        }
        catch (IOException ex)
        {
            // Kestrel reports a port in use as IOException (inner AddressInUseException) and a denied bind as IOException (inner SocketException).
            Assert.Skip($"Port 443 cannot be bound here (in use, or no CAP_NET_BIND_SERVICE): {ex.Message}");
            return;
        }

        await using (dps)
        {
            Assert.Contains("HostName=localhost;", dps.ServiceConnectionString, StringComparison.Ordinal);
            Assert.Equal(new Uri("https://localhost/"), dps.GlobalEndpoint);
            using var sdk = new ServiceSdkClient(dps, "2019-03-31");
            Assert.Equal(443, sdk.BaseAddress.Port);
            using var put = await sdk.SendAsync(HttpMethod.Put, "enrollments/on-443",
                "{\"registrationId\":\"on-443\",\"attestation\":{\"type\":\"symmetricKey\"}}");
            Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        }
    }
}

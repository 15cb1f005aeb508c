using System.Net;

using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Hubs;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

public sealed class SymmetricKeyRegistrationTests
{
    [Fact]
    public async Task Register_WithIndividualPrimaryKey_Answers202ThenAssignedStateAndFillsHubRegistry()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("device-01", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);
        var sas = TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "device-01");

        using var put = await client.SendAsync(TestDps.Register(dps, "device-01", sas: sas), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);
        Assert.Equal(TimeSpan.Zero, put.Headers.RetryAfter?.Delta);
        var accepted = await TestDps.JsonAsync(put);
        var operationId = accepted.GetProperty("operationId").GetString()!;
        Assert.StartsWith("4.", operationId, StringComparison.Ordinal);

        using var get = await client.SendAsync(TestDps.Operation(dps, "device-01", operationId, sas), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        var final = await TestDps.JsonAsync(get);
        Assert.Equal("assigned", final.GetProperty("status").GetString());
        var state = final.GetProperty("registrationState");
        Assert.Equal("device-01", state.GetProperty("registrationId").GetString());
        Assert.Equal("device-01", state.GetProperty("deviceId").GetString());
        Assert.Equal("hub1.localhost", state.GetProperty("assignedHub").GetString());
        Assert.Equal("assigned", state.GetProperty("status").GetString());
        Assert.Equal("initialAssignment", state.GetProperty("substatus").GetString());
        Assert.False(string.IsNullOrEmpty(state.GetProperty("etag").GetString()));
        Assert.EndsWith("Z", state.GetProperty("createdDateTimeUtc").GetString(), StringComparison.Ordinal);
        Assert.True(state.TryGetProperty("lastUpdatedDateTimeUtc", out _));

        var device = await dps.HubRegistry.FindAsync("hub1.localhost", "device-01", TestContext.Current.CancellationToken);
        Assert.NotNull(device);
        Assert.Equal(HubCredentialKind.SymmetricKey, device.Kind);
        Assert.Equal(Convert.FromBase64String(keys.PrimaryKey), device.PrimaryKey);
        Assert.Equal(Convert.FromBase64String(keys.SecondaryKey), device.SecondaryKey);
    }

    [Fact]
    public async Task Register_WithSecondaryKey_IsAccepted()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("device-02", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        var final = await TestDps.RegisterToEndAsync(client, dps, "device-02", TestSas.ForDevice(keys.SecondaryKey, dps.IdScope, "device-02"));

        Assert.Equal("assigned", final.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Register_WithGroupDerivedKeyAndLowerCaseEncoding_AssignsAndReportsGroup()
    {
        await using var dps = await TestDps.StartAsync();
        var group = await dps.Enrollments.AddSymmetricKeyGroupAsync("line-a", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);
        var deviceKey = TestSas.DeriveDeviceKey(group.PrimaryKey, "sensor-7");
        Assert.Equal(deviceKey, group.DeriveDeviceKey("sensor-7"));

        var final = await TestDps.RegisterToEndAsync(client, dps, "sensor-7", TestSas.ForDevice(deviceKey, dps.IdScope, "sensor-7", lowerCaseEncoding: true));

        var state = final.GetProperty("registrationState");
        Assert.Equal("assigned", state.GetProperty("status").GetString());
        Assert.Equal("line-a", state.GetProperty("symmetricKey").GetProperty("enrollmentGroupId").GetString());
        var device = await dps.HubRegistry.FindAsync("hub1.localhost", "sensor-7", TestContext.Current.CancellationToken);
        Assert.Equal(Convert.FromBase64String(deviceKey), device!.PrimaryKey);
    }

    [Fact]
    public async Task Register_WithGroupSecondaryDerivedKey_IsAccepted()
    {
        await using var dps = await TestDps.StartAsync();
        var group = await dps.Enrollments.AddSymmetricKeyGroupAsync("line-b", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        var final = await TestDps.RegisterToEndAsync(client, dps, "sensor-8", TestSas.ForDevice(TestSas.DeriveDeviceKey(group.SecondaryKey, "sensor-8"), dps.IdScope, "sensor-8"));

        Assert.Equal("assigned", final.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Register_WithPayloadAndNoBodyRegistrationId_IsAccepted()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("device-03", new EnrollmentSettings { DeviceId = "custom-id" }, TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        var final = await TestDps.RegisterToEndAsync(client, dps, "device-03", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "device-03"), "{\"payload\":{\"modelId\":\"dtmi:x;1\"}}");

        Assert.Equal("custom-id", final.GetProperty("registrationState").GetProperty("deviceId").GetString());
    }

    [Theory]
    [InlineData("2019-03-31")]
    [InlineData("2021-06-01")]
    [InlineData("2025-07-01-preview")]
    public async Task Register_WithEachSupportedApiVersion_IsAccepted(string apiVersion)
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("device-04", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        using var put = await client.SendAsync(TestDps.Register(dps, "device-04", sas: TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "device-04"), apiVersion: apiVersion), TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);
    }

    [Fact]
    public async Task Register_WithDefaultRetryAfter_AnswersThreeSeconds()
    {
        await using var dps = await DpsEmulator.StartAsync(new DpsEmulatorOptions(), TestContext.Current.CancellationToken);
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("device-05", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        using var put = await client.SendAsync(TestDps.Register(dps, "device-05", sas: TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "device-05")), TestContext.Current.CancellationToken);

        Assert.Equal(TimeSpan.FromSeconds(3), put.Headers.RetryAfter?.Delta);
    }

    [Fact]
    public async Task StatusLookup_AfterRegistration_AnswersTheState()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("device-06", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);
        var sas = TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "device-06");
        await TestDps.RegisterToEndAsync(client, dps, "device-06", sas);

        using var post = await client.SendAsync(
            TestDps.Request(HttpMethod.Post, $"{dps.IdScope}/registrations/device-06?api-version=2019-03-31", "{\"registrationId\":\"device-06\"}", sas),
            TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, post.StatusCode);
        var state = await TestDps.JsonAsync(post);
        Assert.Equal("assigned", state.GetProperty("status").GetString());
        Assert.Equal("hub1.localhost", state.GetProperty("assignedHub").GetString());
    }
}

using System.Net;

using Provisioning.Emulator.Allocation;
using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

public sealed class AllocationTests
{
    private static void ThreeHubs(DpsEmulatorOptions o)
    {
        o.Hubs.Add(new LinkedHub("hub-a.localhost", "westeurope"));
        o.Hubs.Add(new LinkedHub("hub-b.localhost", "eastus"));
        o.Hubs.Add(new LinkedHub("hub-c.localhost", "japaneast"));
    }

    [Fact]
    public void Hashed_Over10000RegistrationsAcross3Hubs_IsWithin5PercentOfEven()
    {
        LinkedHub[] hubs = [new("a"), new("b"), new("c")];
        var counts = new Dictionary<string, int> { ["a"] = 0, ["b"] = 0, ["c"] = 0 };

        for (var i = 0; i < 10_000; i++)
        {
            counts[HubAllocator.Hashed($"device-{i}", hubs).HostName]++;
        }

        foreach (var (hub, count) in counts)
        {
            Assert.InRange(count, 3333 * 0.95, 3334 * 1.05);
        }
    }

    [Fact]
    public async Task Start_WithTheSameHubLinkedTwice_ThrowsArgumentException()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => TestDps.StartAsync(o =>
        {
            o.Hubs.Add(new LinkedHub("hub-a.localhost"));
            o.Hubs.Add(new LinkedHub("HUB-A.localhost"));
        }));
    }

    [Fact]
    public void Hashed_ForTheSameRegistration_IsStable()
    {
        LinkedHub[] hubs = [new("a"), new("b"), new("c")];
        Assert.Equal(HubAllocator.Hashed("Device-X", hubs).HostName, HubAllocator.Hashed("device-x", hubs).HostName);
    }

    [Fact]
    public async Task Register_OverHttpsWithHashedPolicy_UsesEveryHub()
    {
        await using var dps = await TestDps.StartAsync(ThreeHubs);
        var group = await dps.Enrollments.AddSymmetricKeyGroupAsync("g", cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);
        var seen = new HashSet<string>();

        for (var i = 0; i < 30; i++)
        {
            var id = $"d-{i}";
            var final = await TestDps.RegisterToEndAsync(client, dps, id, TestSas.ForDevice(group.DeriveDeviceKey(id), dps.IdScope, id));
            seen.Add(final.GetProperty("registrationState").GetProperty("assignedHub").GetString()!);
        }

        Assert.Equal(3, seen.Count);
    }

    [Fact]
    public async Task Register_WithGeoLatencyAndRegionHeader_AssignsTheHubInThatRegion()
    {
        await using var dps = await TestDps.StartAsync(ThreeHubs);
        var group = await dps.Enrollments.AddSymmetricKeyGroupAsync("geo", new EnrollmentSettings { AllocationPolicy = AllocationPolicy.GeoLatency }, TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        foreach (var (id, region, hub) in new[] { ("g1", "eastus", "hub-b.localhost"), ("g2", "japaneast", "hub-c.localhost"), ("g3", "westeurope", "hub-a.localhost") })
        {
            using var request = TestDps.Register(dps, id, sas: TestSas.ForDevice(group.DeriveDeviceKey(id), dps.IdScope, id));
            request.Headers.Add("x-emulator-device-region", region);
            using var put = await client.SendAsync(request, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);
            Assert.NotNull(await dps.HubRegistry.FindAsync(hub, id, TestContext.Current.CancellationToken));
        }
    }

    [Fact]
    public async Task Register_WithStaticPolicy_AssignsTheOneHub()
    {
        await using var dps = await TestDps.StartAsync(ThreeHubs);
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("s1", new EnrollmentSettings { AllocationPolicy = AllocationPolicy.Static, IotHubs = ["hub-c.localhost"] }, TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        var final = await TestDps.RegisterToEndAsync(client, dps, "s1", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "s1"));

        Assert.Equal("hub-c.localhost", final.GetProperty("registrationState").GetProperty("assignedHub").GetString());
    }

    [Fact]
    public async Task Register_WithCustomWebhook_SendsTheRealRequestShapeAndHonoursHubTwinAndPayload()
    {
        await using var webhook = await WebhookServer.StartAsync(_ => (200,
            "{\"iotHubHostName\":\"hub-b.localhost\",\"initialTwin\":{\"properties\":{\"desired\":{\"mode\":\"eco\"}}},\"payload\":{\"welcome\":true}}"));
        await using var dps = await TestDps.StartAsync(ThreeHubs);
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("c1", new EnrollmentSettings { AllocationPolicy = AllocationPolicy.Custom, WebhookUrl = webhook.Url }, TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        var final = await TestDps.RegisterToEndAsync(client, dps, "c1", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "c1"), "{\"registrationId\":\"c1\",\"payload\":{\"floor\":3}}");

        var state = final.GetProperty("registrationState");
        Assert.Equal("hub-b.localhost", state.GetProperty("assignedHub").GetString());
        Assert.True(state.GetProperty("payload").GetProperty("welcome").GetBoolean());
        var request = Assert.Single(webhook.Requests);
        Assert.Equal("c1", request.GetProperty("individualEnrollment").GetProperty("registrationId").GetString());
        var context = request.GetProperty("deviceRuntimeContext");
        Assert.Equal("c1", context.GetProperty("registrationId").GetString());
        Assert.Equal(3, context.GetProperty("payload").GetProperty("floor").GetInt32());
        Assert.Equal(3, request.GetProperty("linkedHubs").GetArrayLength());
        var device = await dps.HubRegistry.FindAsync("hub-b.localhost", "c1", TestContext.Current.CancellationToken);
        Assert.Equal("{\"mode\":\"eco\"}", device!.InitialTwin);
    }

    [Fact]
    public async Task Register_WhenWebhookFails_EndsFailedWith400209()
    {
        await using var webhook = await WebhookServer.StartAsync(_ => (500, "{}"));
        await using var dps = await TestDps.StartAsync(ThreeHubs);
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("c2", new EnrollmentSettings { AllocationPolicy = AllocationPolicy.Custom, WebhookUrl = webhook.Url }, TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        var final = await TestDps.RegisterToEndAsync(client, dps, "c2", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "c2"));

        Assert.Equal("failed", final.GetProperty("status").GetString());
        Assert.Equal(400209, final.GetProperty("registrationState").GetProperty("errorCode").GetInt32());
    }

    [Fact]
    public async Task Register_WhenWebhookUrlIsNotHttp_EndsFailedWith400209()
    {
        await using var dps = await TestDps.StartAsync(ThreeHubs);
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("c4", new EnrollmentSettings { AllocationPolicy = AllocationPolicy.Custom, WebhookUrl = new Uri("file:///etc/passwd") }, TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        var final = await TestDps.RegisterToEndAsync(client, dps, "c4", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "c4"));

        Assert.Equal(400209, final.GetProperty("registrationState").GetProperty("errorCode").GetInt32());
    }

    [Fact]
    public async Task Register_WhenWebhookChoosesAnUnlinkedHub_EndsFailedWith400208()
    {
        await using var webhook = await WebhookServer.StartAsync(_ => (200, "{\"iotHubHostName\":\"elsewhere.azure-devices.net\"}"));
        await using var dps = await TestDps.StartAsync(ThreeHubs);
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("c3", new EnrollmentSettings { AllocationPolicy = AllocationPolicy.Custom, WebhookUrl = webhook.Url }, TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        var final = await TestDps.RegisterToEndAsync(client, dps, "c3", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "c3"));

        Assert.Equal(400208, final.GetProperty("registrationState").GetProperty("errorCode").GetInt32());
    }

    [Theory]
    [InlineData(true, "deviceDataMigrated")]
    [InlineData(false, "deviceDataReset")]
    public async Task Reregister_WhenAllocationMovesTheDevice_MigratesOrResetsAndRemovesItFromTheOldHub(bool migrate, string substatus)
    {
        string target = "hub-a.localhost";
        await using var webhook = await WebhookServer.StartAsync(_ => (200, $"{{\"iotHubHostName\":\"{target}\"}}"));
        await using var dps = await TestDps.StartAsync(ThreeHubs);
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("m1", new EnrollmentSettings { AllocationPolicy = AllocationPolicy.Custom, WebhookUrl = webhook.Url, MigrateDeviceData = migrate }, TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);
        var sas = TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "m1");
        var first = await TestDps.RegisterToEndAsync(client, dps, "m1", sas);
        Assert.Equal("initialAssignment", first.GetProperty("registrationState").GetProperty("substatus").GetString());

        target = "hub-c.localhost";
        var second = await TestDps.RegisterToEndAsync(client, dps, "m1", sas);

        var state = second.GetProperty("registrationState");
        Assert.Equal("hub-c.localhost", state.GetProperty("assignedHub").GetString());
        Assert.Equal(substatus, state.GetProperty("substatus").GetString());
        Assert.Equal(first.GetProperty("registrationState").GetProperty("createdDateTimeUtc").GetString(), state.GetProperty("createdDateTimeUtc").GetString());
        Assert.Null(await dps.HubRegistry.FindAsync("hub-a.localhost", "m1", TestContext.Current.CancellationToken));
        Assert.NotNull(await dps.HubRegistry.FindAsync("hub-c.localhost", "m1", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Reregister_WhenPolicyKeepsTheHub_StaysOnTheFirstHub()
    {
        string target = "hub-a.localhost";
        await using var webhook = await WebhookServer.StartAsync(_ => (200, $"{{\"iotHubHostName\":\"{target}\"}}"));
        await using var dps = await TestDps.StartAsync(ThreeHubs);
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("k1", new EnrollmentSettings { AllocationPolicy = AllocationPolicy.Custom, WebhookUrl = webhook.Url, UpdateHubAssignment = false }, TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);
        var sas = TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "k1");
        await TestDps.RegisterToEndAsync(client, dps, "k1", sas);

        target = "hub-c.localhost";
        var second = await TestDps.RegisterToEndAsync(client, dps, "k1", sas);

        Assert.Equal("hub-a.localhost", second.GetProperty("registrationState").GetProperty("assignedHub").GetString());
        Assert.Single(webhook.Requests);
    }
}

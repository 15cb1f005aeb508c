using System.Text.Json;
using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Hubs;

/// <summary>A re-registration replaces the device's hub entry; the hub resets the twin only when the reprovision policy resets the
/// device's data (dps-protocol.md §1.6 substatus, issue 4 reprovision policy, issue 6).</summary>
public sealed class HubReprovisionTwinTests
{
    private const string TwinResponses = "$iothub/twin/res/#";
    private const string InitialTwin = """{"properties":{"desired":{"interval":30}}}""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ReRegister_WithResetPolicy_TwinIsTheInitialOneAgainWithNewerVersions()
    {
        await using var dps = await TestDps.StartAsync();
        var (register, hub, key) = await EnrollAsync(dps, "twin-reset-01", migrate: false);
        await register();
        var before = await DirtyTheTwinAsync(dps, hub, "twin-reset-01", key);

        var substatus = await register();

        Assert.Equal("deviceDataReset", substatus);
        var twin = await dps.GetHub(hub).GetTwinAsync("twin-reset-01", Ct);
        Assert.Equal(30, Json(twin.DesiredJson).GetProperty("interval").GetInt32());
        Assert.False(Json(twin.DesiredJson).TryGetProperty("mode", out _));
        Assert.False(Json(twin.ReportedJson).TryGetProperty("fw", out _));
        Assert.True(twin.DesiredVersion > before.DesiredVersion, $"desired {twin.DesiredVersion} after {before.DesiredVersion}");
        Assert.True(twin.ReportedVersion > before.ReportedVersion, $"reported {twin.ReportedVersion} after {before.ReportedVersion}");

        // The device sees the same reset twin.
        await using var device = await TestHubDevice.ConnectAsync(dps, hub, "twin-reset-01", key, [TwinResponses]);
        var document = await device.GetTwinAsync();
        Assert.Equal(30, document.GetProperty("desired").GetProperty("interval").GetInt32());
        Assert.False(document.GetProperty("reported").TryGetProperty("fw", out _));
    }

    [Fact]
    public async Task ReRegister_WithMigrateDataPolicyWithinTheSameHub_TwinIsKept()
    {
        await using var dps = await TestDps.StartAsync();
        var (register, hub, key) = await EnrollAsync(dps, "twin-migrate-01", migrate: true);
        await register();
        var before = await DirtyTheTwinAsync(dps, hub, "twin-migrate-01", key);

        var substatus = await register();

        Assert.Equal("initialAssignment", substatus);
        var twin = await dps.GetHub(hub).GetTwinAsync("twin-migrate-01", Ct);
        Assert.Equal(before, twin);
    }

    [Fact]
    public async Task Reconnect_WithoutReRegistration_TwinIsKept()
    {
        await using var dps = await TestDps.StartAsync();
        var (register, hub, key) = await EnrollAsync(dps, "twin-reconnect-01", migrate: false);
        await register();
        var before = await DirtyTheTwinAsync(dps, hub, "twin-reconnect-01", key);

        await using var device = await TestHubDevice.ConnectAsync(dps, hub, "twin-reconnect-01", key, [TwinResponses]);
        var document = await device.GetTwinAsync();

        Assert.Equal("on", document.GetProperty("reported").GetProperty("fw").GetString());
        Assert.Equal(before, await dps.GetHub(hub).GetTwinAsync("twin-reconnect-01", Ct));
    }

    /// <summary>An individual symmetric-key enrollment with an initial twin, and a function that registers it to the end and
    /// returns the substatus.</summary>
    private static async Task<(Func<Task<string>> Register, string Hub, byte[] Key)> EnrollAsync(DpsEmulator dps, string registrationId, bool migrate)
    {
        var keys = await dps.Enrollments.AddSymmetricKeyAsync(registrationId, new EnrollmentSettings
        {
            InitialTwinJson = InitialTwin,
            UpdateHubAssignment = true,
            MigrateDeviceData = migrate,
        }, Ct);
        var hub = dps.Hubs.Single().HostName;
        async Task<string> RegisterAsync()
        {
            using var http = TestDps.Client(dps);
            var final = await TestDps.RegisterToEndAsync(http, dps, registrationId, TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, registrationId));
            var state = final.GetProperty("registrationState");
            Assert.Equal(hub, state.GetProperty("assignedHub").GetString());
            return state.GetProperty("substatus").GetString()!;
        }

        return (RegisterAsync, hub, Convert.FromBase64String(keys.PrimaryKey));
    }

    /// <summary>The device reports a property, the back end sets a desired one; returns the twin after both.</summary>
    private static async Task<Emulator.Hubs.HubTwinSnapshot> DirtyTheTwinAsync(DpsEmulator dps, string hubName, string deviceId, byte[] key)
    {
        var hub = dps.GetHub(hubName);
        await using (var device = await TestHubDevice.ConnectAsync(dps, hubName, deviceId, key, [TwinResponses]))
        {
            Assert.Equal("204", await device.PatchReportedAsync("""{"fw":"on"}"""));
        }

        await hub.UpdateDesiredAsync(deviceId, """{"mode":"eco"}""", Ct);
        var twin = await hub.GetTwinAsync(deviceId, Ct);
        Assert.Equal("eco", Json(twin.DesiredJson).GetProperty("mode").GetString());
        Assert.Equal("on", Json(twin.ReportedJson).GetProperty("fw").GetString());
        return twin;
    }

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;
}

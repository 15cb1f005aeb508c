using MQTTnet;
using MQTTnet.Formatter;

using Provisioning.Emulator.Tests.Hubs;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

/// <summary>
/// Registration ids are case-insensitive in DPS (its documentation: "a case-insensitive string (up to 128 characters long)"),
/// IoT Hub device ids are not: a re-registration that differs only in case keeps the device id assigned first.
/// </summary>
public sealed class RegistrationIdCaseTests
{
    [Fact]
    public async Task ReRegistration_DifferingOnlyInCase_KeepsTheFirstDeviceId_AndTheDeviceStaysUsable()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("adv-a", cancellationToken: ct);
        using var client = TestDps.Client(dps);

        var first = await TestDps.RegisterToEndAsync(client, dps, "adv-a", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "adv-a"));
        Assert.Equal("adv-a", first.GetProperty("registrationState").GetProperty("deviceId").GetString());
        var again = await TestDps.RegisterToEndAsync(client, dps, "ADV-A", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "ADV-A"));
        var state = again.GetProperty("registrationState");
        Assert.Equal("assigned", state.GetProperty("status").GetString());
        Assert.Equal("adv-a", state.GetProperty("deviceId").GetString());
        Assert.Equal("adv-a", state.GetProperty("registrationId").GetString());

        var hub = state.GetProperty("assignedHub").GetString()!;
        var device = await dps.HubRegistry.FindAsync(hub, "adv-a", ct);
        Assert.Equal("adv-a", device!.DeviceId);

        // The device that kept using 'adv-a' is accepted and served (its twin round trip works: not dropped).
        await using (var kept = await TestHubDevice.ConnectAsync(dps, hub, "adv-a", Convert.FromBase64String(keys.PrimaryKey), ["$iothub/twin/res/#"]))
        {
            var twin = await kept.GetTwinAsync();
            Assert.Equal(System.Text.Json.JsonValueKind.Object, twin.ValueKind);
        }

        // IoT Hub device ids are case-sensitive: 'ADV-A' is not a device of the hub.
        using var other = new MqttClientFactory().CreateMqttClient();
        var hubEndPoint = dps.GetHub(hub).EndPoint;
        var refused = await other.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer(hubEndPoint.Address.ToString(), hubEndPoint.Port)
            .WithClientId("ADV-A")
            .WithCredentials($"{hub}/ADV-A/?api-version=2020-09-30",
                TestSas.Create(Convert.FromBase64String(keys.PrimaryKey), $"{hub}/devices/ADV-A", DateTimeOffset.UtcNow.AddHours(1), keyName: null))
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithTlsOptions(o => o.UseTls().WithTargetHost(hub).WithTrustChain([dps.CertificateAuthority.Certificate]))
            .Build(), ct);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, refused.ResultCode);
    }

    [Fact]
    public async Task StatusReadsAndServiceLookups_AreCaseInsensitive()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("Mixed-Case", cancellationToken: ct);
        using var client = TestDps.Client(dps);
        await TestDps.RegisterToEndAsync(client, dps, "mixed-case", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "mixed-case"));

        using var sdk = new Service.ServiceSdkClient(dps, "2021-10-01");
        using var registration = await sdk.SendAsync(HttpMethod.Get, "registrations/MIXED-CASE");
        Assert.Equal("mixed-case", (await TestDps.JsonAsync(registration)).GetProperty("deviceId").GetString());
        using var enrollment = await sdk.SendAsync(HttpMethod.Get, "enrollments/mixed-CASE");
        Assert.Equal("Mixed-Case", (await TestDps.JsonAsync(enrollment)).GetProperty("registrationId").GetString());
    }
}

using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Device.Hub.Tests.FirstBoot;

/// <summary>After first boot, the emulator's service side reaches the device through <c>dps.GetHub(assignedHub)</c>: the initial
/// twin, desired updates, direct methods, cloud-to-device messages and reported properties (issue 6).</summary>
public sealed class ServiceSideTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task AfterFirstBoot_TheEmulatorsHub_ReachesTheDeviceForTwinMethodsAndMessages()
    {
        await using var bed = await FirstBootBed.StartAsync();
        var keys = await bed.Dps.Enrollments.AddSymmetricKeyAsync("service-side-01",
            new EnrollmentSettings { InitialTwinJson = """{"properties":{"desired":{"interval":10}}}""" }, Ct);
        using var attestation = new SymmetricKeyAttestation("service-side-01", keys.PrimaryKey);
        var result = await bed.RegisterAsync(attestation);
        var hub = bed.Dps.GetHub(result.AssignedHub!);
        var desired = new TaskCompletionSource<DesiredPropertyUpdate>(TaskCreationOptions.RunContinuationsAsynchronously);
        var message = new TaskCompletionSource<HubMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var client = DeviceClient.Create(result, attestation, bed.HubOptions());
        client.SetDesiredPropertyUpdateHandler((update, _) => { desired.TrySetResult(update); return ValueTask.CompletedTask; });
        client.SetMessageHandler((m, _) => { message.TrySetResult(m); return ValueTask.CompletedTask; });
        client.SetMethodHandler("reboot", (request, _) =>
            ValueTask.FromResult(new MethodResponse(200, Encoding.UTF8.GetBytes($"{{\"echo\":{Encoding.UTF8.GetString(request.Payload.Span)}}}"))));
        await client.OpenAsync(Ct);

        var twin = await client.GetTwinAsync(Ct);
        Assert.Equal(10, twin.Desired["interval"]!.GetValue<int>());

        var method = await hub.InvokeMethodAsync(result.DeviceId!, "reboot", "{\"delay\":1}", TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(200, method.Status);
        Assert.Equal(1, JsonDocument.Parse(method.Payload).RootElement.GetProperty("echo").GetProperty("delay").GetInt32());

        var version = await hub.UpdateDesiredAsync(result.DeviceId!, "{\"interval\":20}", Ct);
        var update = await desired.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(version, update.Version);
        Assert.Equal(20, update.Patch["interval"]!.GetValue<int>());

        await hub.SendCloudToDeviceAsync(result.DeviceId!, new HubCloudMessage("hello"u8.ToArray()) { Properties = new Dictionary<string, string> { ["k"] = "v" } }, Ct);
        var received = await message.Task.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal("hello", Encoding.UTF8.GetString(received.Body.Span));
        Assert.Equal("v", received.Properties["k"]);

        await client.UpdateReportedPropertiesAsync(new JsonObject { ["firmware"] = "1.0.1" }, Ct);
        var serviceTwin = await hub.GetTwinAsync(result.DeviceId!, Ct);
        Assert.Equal("1.0.1", JsonDocument.Parse(serviceTwin.ReportedJson).RootElement.GetProperty("firmware").GetString());
    }
}

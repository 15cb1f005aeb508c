using System.Text;
using System.Text.Json.Nodes;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Device.Hub.Tests;

public sealed class TwinMethodMessageTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Twin_GetPatchAndDesiredPushes_FollowTheVersions()
    {
        await using var bed = await HubTestBed.StartAsync();
        await bed.Registry.UpsertAsync(new HubDevice(HubTestBed.HubName, "twin-1", HubCredentialKind.SymmetricKey, new byte[32], null, null, true,
            "{\"interval\":30}"), Ct);
        var updates = System.Threading.Channels.Channel.CreateUnbounded<DesiredPropertyUpdate>();
        var client = bed.Create("twin-1", HubAuthentication.FromSymmetricKey(new byte[32]));
        client.SetDesiredPropertyUpdateHandler((u, _) => updates.Writer.WriteAsync(u, Ct));
        await client.OpenAsync(Ct);

        var twin = await client.GetTwinAsync(Ct);
        Assert.Equal(30, twin.Desired["interval"]!.GetValue<int>());
        Assert.Equal(1, twin.DesiredVersion);

        var v2 = await client.UpdateReportedPropertiesAsync(new JsonObject { ["firmware"] = "1.0" }, Ct);
        var v3 = await client.UpdateReportedPropertiesAsync(new JsonObject { ["firmware"] = "1.1" }, Ct);
        Assert.Equal(2, v2);
        Assert.Equal(3, v3);
        Assert.Contains("\"firmware\":\"1.1\"", (await bed.Hub.GetTwinAsync("twin-1", Ct)).ReportedJson, StringComparison.Ordinal);

        await bed.Hub.UpdateDesiredAsync("twin-1", "{\"interval\":10}", Ct);
        await bed.Hub.UpdateDesiredAsync("twin-1", "{\"interval\":5}", Ct);
        var first = await updates.Reader.ReadAsync(Ct);
        var second = await updates.Reader.ReadAsync(Ct);
        Assert.Equal((2, 10), (first.Version, first.Patch["interval"]!.GetValue<int>()));
        Assert.Equal((3, 5), (second.Version, second.Patch["interval"]!.GetValue<int>()));
    }

    [Fact]
    public async Task Desired_MalformedOrStalePushes_AreDroppedAndLaterOnesStillArrive()
    {
        await using var bed = await HubTestBed.StartAsync();
        var updates = System.Threading.Channels.Channel.CreateUnbounded<DesiredPropertyUpdate>();
        var client = await bed.OpenSymmetricAsync("twin-2");
        client.SetDesiredPropertyUpdateHandler((u, _) => updates.Writer.WriteAsync(u, Ct));

        await bed.Hub.PublishRawAsync("twin-2", "$iothub/twin/PATCH/properties/desired/?$version=7", "{not json"u8.ToArray(), Ct);
        await bed.Hub.PublishRawAsync("twin-2", "$iothub/twin/PATCH/properties/desired/?$version=8", "{\"a\":1,\"$version\":8}"u8.ToArray(), Ct);
        await bed.Hub.PublishRawAsync("twin-2", "$iothub/twin/PATCH/properties/desired/?$version=6", "{\"a\":0,\"$version\":6}"u8.ToArray(), Ct);
        await bed.Hub.PublishRawAsync("twin-2", "$iothub/something/unknown", "x"u8.ToArray(), Ct);
        await bed.Hub.PublishRawAsync("twin-2", "$iothub/twin/PATCH/properties/desired/?$version=9", "{\"a\":2,\"$version\":9}"u8.ToArray(), Ct);

        Assert.Equal(8, (await updates.Reader.ReadAsync(Ct)).Version);
        Assert.Equal(9, (await updates.Reader.ReadAsync(Ct)).Version);
        Assert.Equal(ConnectionState.Connected, client.State);
    }

    [Theory]
    [InlineData("][")]
    [InlineData("[1,2]")]
    [InlineData("")]
    public void TwinDocument_MalformedFromTheHub_IsANonTransientHubException(string json)
    {
        var error = Assert.Throws<HubException>(() => DeviceClient.ParseObject(Encoding.UTF8.GetBytes(json), "a twin"));
        Assert.False(error.IsTransient);
    }

    [Fact]
    public async Task TwinRequests_AnsweredWithAnErrorStatus_ThrowWithThatStatus()
    {
        await using var bed = await HubTestBed.StartAsync();
        var client = await bed.OpenSymmetricAsync("twin-5");
        bed.Hub.FailTwinRequests("twin-5", 429);
        bed.Hub.FailTwinRequests("twin-5", 400);

        var throttled = await Assert.ThrowsAsync<HubException>(() => client.UpdateReportedPropertiesAsync(new JsonObject { ["a"] = 1 }, Ct));
        var rejected = await Assert.ThrowsAsync<HubException>(() => client.GetTwinAsync(Ct));

        Assert.Equal((429, true), (throttled.Status, throttled.IsTransient));
        Assert.Equal((400, false), (rejected.Status, rejected.IsTransient));
        Assert.Equal(2, await client.UpdateReportedPropertiesAsync(new JsonObject { ["a"] = 2 }, Ct));
    }

    [Fact]
    public async Task Desired_ChangedWhileDisconnected_IsDeliveredAfterTheReconnect()
    {
        await using var bed = await HubTestBed.StartAsync();
        var updates = System.Threading.Channels.Channel.CreateUnbounded<DesiredPropertyUpdate>();
        var key = await bed.RegisterKeyAsync("twin-6");
        var client = bed.Create("twin-6", HubAuthentication.FromSymmetricKey(key));
        client.SetDesiredPropertyUpdateHandler((u, _) => updates.Writer.WriteAsync(u, Ct));
        await client.OpenAsync(Ct);

        await bed.Hub.StopAsync(Ct);
        await bed.Hub.UpdateDesiredAsync("twin-6", "{\"interval\":7}", Ct);
        await bed.Hub.StartAsync(Ct);

        var update = await updates.Reader.ReadAsync(Ct);
        Assert.Equal((2, 7), (update.Version, update.Patch["interval"]!.GetValue<int>()));
    }

    [Fact]
    public async Task DirectMethods_ByName_Default_Unknown_AndFailingHandler()
    {
        await using var bed = await HubTestBed.StartAsync();
        var client = await bed.OpenSymmetricAsync("method-1");
        client.SetMethodHandler("reboot", (r, _) => ValueTask.FromResult(new MethodResponse(200, Encoding.UTF8.GetBytes($"{{\"echo\":{Encoding.UTF8.GetString(r.Payload.Span)}}}"))));
        client.SetMethodHandler("explode", (_, _) => throw new InvalidOperationException("boom"));

        var ok = await bed.Hub.InvokeMethodAsync("method-1", "reboot", "{\"delay\":1}", TimeSpan.FromSeconds(30), Ct);
        var unknown = await bed.Hub.InvokeMethodAsync("method-1", "nope", "{}", TimeSpan.FromSeconds(30), Ct);
        var failed = await bed.Hub.InvokeMethodAsync("method-1", "explode", "{}", TimeSpan.FromSeconds(30), Ct);
        client.SetDefaultMethodHandler((r, _) => ValueTask.FromResult(new MethodResponse(202, Encoding.UTF8.GetBytes($"\"{r.Name}\""))));
        var byDefault = await bed.Hub.InvokeMethodAsync("method-1", "nope", "{}", TimeSpan.FromSeconds(30), Ct);

        Assert.Equal(new HubMethodResult(200, "{\"echo\":{\"delay\":1}}"), ok);
        Assert.Equal(501, unknown.Status);
        Assert.Contains("nope", unknown.Payload, StringComparison.Ordinal);
        Assert.Equal(500, failed.Status);
        Assert.DoesNotContain("boom", failed.Payload, StringComparison.Ordinal);
        Assert.Equal(new HubMethodResult(202, "\"nope\""), byDefault);
    }

    [Fact]
    public async Task CloudToDevice_IsDeliveredWithProperties_AndAcknowledgedOnlyAfterTheHandlerReturns()
    {
        await using var bed = await HubTestBed.StartAsync();
        var received = new TaskCompletionSource<HubMessage>();
        var release = new TaskCompletionSource();
        var client = await bed.OpenSymmetricAsync("c2d-1");
        client.SetMessageHandler(async (m, _) =>
        {
            received.TrySetResult(m);
            await release.Task;
        });

        var send = bed.Hub.SendCloudToDeviceAsync("c2d-1", new HubCloudMessage("hello"u8.ToArray())
        {
            MessageId = "c2d-mid",
            CorrelationId = "corr",
            Properties = new Dictionary<string, string> { ["command"] = "open door", ["level"] = "5&6" },
        }, Ct);
        var message = await received.Task.WaitAsync(Ct);

        Assert.Equal("hello", Encoding.UTF8.GetString(message.Body.Span));
        Assert.Equal("c2d-mid", message.MessageId);
        Assert.Equal("corr", message.CorrelationId);
        Assert.Equal("open door", message.Properties["command"]);
        Assert.Equal("5&6", message.Properties["level"]);
        Assert.Equal("/devices/c2d-1/messages/deviceBound", message.SystemProperties["$.to"]);
        Assert.False(send.IsCompleted);
        release.SetResult();
        await send;
    }
}

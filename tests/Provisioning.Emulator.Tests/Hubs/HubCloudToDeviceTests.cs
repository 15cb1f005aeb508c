using System.Security.Cryptography;
using System.Text;
using MQTTnet;
using Provisioning.Emulator.Hubs;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Hubs;

/// <summary>Cloud-to-device messages to devices that are not connected: queued per device (at most 50, with a time to live),
/// delivered on the next connection, completed by the device's PUBACK (dps-protocol.md §8, C2D row).</summary>
public sealed class HubCloudToDeviceTests : IAsyncLifetime
{
    private const string DeviceId = "c2d-offline-01";
    private const string DeviceBound = $"devices/{DeviceId}/messages/devicebound/#";
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly ManualClock _clock = new();
    private DpsEmulator _dps = null!;
    private string _hubName = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private EmulatedIotHub Hub => _dps.GetHub(_hubName);

    public async ValueTask InitializeAsync()
    {
        _dps = await TestDps.StartAsync(o => o.TimeProvider = _clock);
        _hubName = _dps.Hubs.Single().HostName;
        await _dps.HubRegistry.UpsertAsync(new HubDevice(_hubName, DeviceId, HubCredentialKind.SymmetricKey, _key, null, null, true, null), Ct);
    }

    public async ValueTask DisposeAsync() => await _dps.DisposeAsync();

    private Task<TestHubDevice> ConnectAsync(bool autoAcknowledge = true) =>
        TestHubDevice.ConnectAsync(_dps, _hubName, DeviceId, _key, [DeviceBound], autoAcknowledge);

    private static HubCloudMessage Message(string body, string? id = null, TimeSpan? timeToLive = null) =>
        new(Encoding.UTF8.GetBytes(body)) { MessageId = id, TimeToLive = timeToLive };

    [Fact]
    public async Task Send_ToAnOfflineDevice_IsQueued_DeliveredWithItsPropertiesOnTheNextConnection_AndCompletesOnThePubAck()
    {
        var send = Hub.SendCloudToDeviceAsync(DeviceId, Message("hello", "m-1") with
        {
            CorrelationId = "c-1",
            Properties = new Dictionary<string, string> { ["k"] = "v w" },
        }, Ct);

        Assert.False(send.IsCompleted);
        Assert.Equal(1, Hub.GetCloudToDeviceQueueLength(DeviceId));

        await using var device = await ConnectAsync();
        var received = (await device.ReadAsync()).ApplicationMessage;
        await send.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal("hello", received.ConvertPayloadToString());
        Assert.StartsWith($"devices/{DeviceId}/messages/devicebound/", received.Topic, StringComparison.Ordinal);
        Assert.Contains("k=v%20w", received.Topic, StringComparison.Ordinal);
        Assert.Contains("%24.mid=m-1", received.Topic, StringComparison.Ordinal);
        Assert.Contains("%24.cid=c-1", received.Topic, StringComparison.Ordinal);
        Assert.Equal(0, Hub.GetCloudToDeviceQueueLength(DeviceId));
    }

    [Fact]
    public async Task Enqueue_ToAnOfflineDevice_ReturnsAtOnce_AndTheMessagesArriveInOrderOnConnection()
    {
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            ids.Add(await Hub.EnqueueCloudToDeviceAsync(DeviceId, Message($"m{i}"), Ct));
        }

        Assert.Equal(3, ids.Distinct().Count());
        Assert.Equal(3, Hub.GetCloudToDeviceQueueLength(DeviceId));

        await using var device = await ConnectAsync();
        var bodies = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            bodies.Add((await device.ReadAsync()).ApplicationMessage.ConvertPayloadToString());
        }

        Assert.Equal(["m0", "m1", "m2"], bodies);
    }

    [Fact]
    public async Task Enqueue_WhenTheDeviceAlreadyHas50Queued_IsRefusedWith403004()
    {
        for (var i = 0; i < 50; i++)
        {
            await Hub.EnqueueCloudToDeviceAsync(DeviceId, Message($"m{i}"), Ct);
        }

        var refused = await Assert.ThrowsAsync<HubCloudToDeviceException>(() => Hub.EnqueueCloudToDeviceAsync(DeviceId, Message("one too many", "m-51"), Ct));
        var sendRefused = await Assert.ThrowsAsync<HubCloudToDeviceException>(() => Hub.SendCloudToDeviceAsync(DeviceId, Message("again"), Ct));

        Assert.Equal(HubCloudToDeviceFailure.QueueFull, refused.Failure);
        Assert.Equal(403004, refused.ErrorCode);
        Assert.Equal("m-51", refused.MessageId);
        Assert.Equal(403004, sendRefused.ErrorCode);
        Assert.Equal(50, Hub.GetCloudToDeviceQueueLength(DeviceId));
    }

    [Fact]
    public async Task Send_WhenItsTimeToLiveRunsOutBeforeTheDeviceConnects_FailsAsExpired_AndIsNeverDelivered()
    {
        var send = Hub.SendCloudToDeviceAsync(DeviceId, Message("stale", "m-stale", TimeSpan.FromMinutes(1)), Ct);
        await _clock.WaitForTimerAsync();

        _clock.Advance(TimeSpan.FromMinutes(2));

        var expired = await Assert.ThrowsAsync<HubCloudToDeviceException>(() => send.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        Assert.Equal(HubCloudToDeviceFailure.Expired, expired.Failure);
        Assert.Null(expired.ErrorCode);
        Assert.Equal(0, Hub.GetCloudToDeviceQueueLength(DeviceId));

        // A later message is the first (and only) thing the device gets.
        await Hub.EnqueueCloudToDeviceAsync(DeviceId, Message("fresh", "m-fresh"), Ct);
        await using var device = await ConnectAsync();
        Assert.Equal("fresh", (await device.ReadAsync()).ApplicationMessage.ConvertPayloadToString());
    }

    [Fact]
    public async Task Enqueue_FireAndForgetPastItsTimeToLive_IsDroppedFromTheQueue()
    {
        await Hub.EnqueueCloudToDeviceAsync(DeviceId, Message("short", timeToLive: TimeSpan.FromSeconds(10)), Ct);
        await Hub.EnqueueCloudToDeviceAsync(DeviceId, Message("long"), Ct);

        _clock.Advance(TimeSpan.FromSeconds(11));

        Assert.Equal(1, Hub.GetCloudToDeviceQueueLength(DeviceId));
        await using var device = await ConnectAsync();
        Assert.Equal("long", (await device.ReadAsync()).ApplicationMessage.ConvertPayloadToString());
    }

    [Fact]
    public async Task Send_NotAcknowledgedBeforeTheConnectionDrops_IsSentAgainOnTheNextConnection()
    {
        var send = Hub.SendCloudToDeviceAsync(DeviceId, Message("again", "m-again"), Ct);
        await using (var silent = await ConnectAsync(autoAcknowledge: false))
        {
            Assert.Equal("again", (await silent.ReadAsync()).ApplicationMessage.ConvertPayloadToString());
        }

        Assert.False(send.IsCompleted);
        Assert.Equal(1, Hub.GetCloudToDeviceQueueLength(DeviceId));

        await using var device = await ConnectAsync();
        var redelivered = (await device.ReadAsync()).ApplicationMessage;
        await send.WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Contains("%24.mid=m-again", redelivered.Topic, StringComparison.Ordinal);
        Assert.Equal(0, Hub.GetCloudToDeviceQueueLength(DeviceId));
    }

    [Fact]
    public async Task Send_ToAConnectedDevice_CompletesOnThePubAck()
    {
        await using var device = await ConnectAsync();

        await Hub.SendCloudToDeviceAsync(DeviceId, Message("live"), Ct).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        Assert.Equal("live", (await device.ReadAsync()).ApplicationMessage.ConvertPayloadToString());
        Assert.Equal(0, Hub.GetCloudToDeviceQueueLength(DeviceId));
    }

    [Fact]
    public async Task Send_Cancelled_StopsWaitingButTheMessageStaysQueued()
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var send = Hub.SendCloudToDeviceAsync(DeviceId, Message("kept"), cancel.Token);

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => send);
        Assert.Equal(1, Hub.GetCloudToDeviceQueueLength(DeviceId));
        await using var device = await ConnectAsync();
        Assert.Equal("kept", (await device.ReadAsync()).ApplicationMessage.ConvertPayloadToString());
    }

    [Theory]
    [InlineData("Zero", 0)]
    [InlineData("Over IoT Hub's two days", 2 * 24 * 60 + 1)]
    public async Task Enqueue_WithATimeToLiveOutOfRange_ThrowsArgumentOutOfRange(string name, int minutes)
    {
        Assert.NotNull(name);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Hub.EnqueueCloudToDeviceAsync(DeviceId, Message("x", timeToLive: TimeSpan.FromMinutes(minutes)), Ct));

        Assert.Equal(0, Hub.GetCloudToDeviceQueueLength(DeviceId));
    }
}

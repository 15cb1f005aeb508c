using System.Text;
using System.Text.Json.Nodes;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Device.Hub.Tests;

/// <summary>The receive queues are bounded by <see cref="DeviceClientOptions.ReceiveQueueCapacity"/>: methods beyond it answer 503,
/// messages beyond it stay unacknowledged, and desired patches beyond it give way to the whole (newer) document.</summary>
public sealed class ReceiveQueueTests
{
    /// <summary>Only a guard against a hang when the behaviour is broken; nothing is measured.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(20);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DirectMethod_WhenTheQueueIsFull_Answers503AndTheQueuedOnesLater200()
    {
        await using var bed = await HubTestBed.StartAsync();
        var client = await bed.OpenSymmetricAsync("queue-1", o => o.ReceiveQueueCapacity = 1);
        var entered = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        client.SetMethodHandler("slow", async (_, _) =>
        {
            entered.TrySetResult();
            await release.Task;
            return new MethodResponse(200, "1"u8.ToArray());
        });

        var running = bed.Hub.InvokeMethodAsync("queue-1", "slow", "{}", HangGuard, Ct);
        await entered.Task.WaitAsync(Ct);
        var queued = bed.Hub.InvokeMethodAsync("queue-1", "slow", "{}", HangGuard, Ct);
        var refused = await bed.Hub.InvokeMethodAsync("queue-1", "slow", "{}", HangGuard, Ct);
        release.SetResult();

        Assert.Equal(503, refused.Status);
        Assert.Equal(200, (await running).Status);
        Assert.Equal(200, (await queued).Status);
    }

    [Fact]
    public async Task CloudToDevice_WhenTheQueueIsFull_LeavesTheMessageUnacknowledgedAndDoesNotDeliverIt()
    {
        await using var bed = await HubTestBed.StartAsync();
        var refusedLog = new SignalingLoggerFactory("message queue is full");
        var client = await bed.OpenSymmetricAsync("queue-2", o =>
        {
            o.ReceiveQueueCapacity = 1;
            o.LoggerFactory = refusedLog;
        });
        var entered = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var seen = System.Threading.Channels.Channel.CreateUnbounded<string>();
        client.SetMessageHandler(async (m, _) =>
        {
            await seen.Writer.WriteAsync(Encoding.UTF8.GetString(m.Body.Span), Ct);
            entered.TrySetResult();
            await release.Task;
        });

        var first = bed.Hub.SendCloudToDeviceAsync("queue-2", new HubCloudMessage("1"u8.ToArray()), Ct);
        await entered.Task.WaitAsync(Ct);
        var second = bed.Hub.SendCloudToDeviceAsync("queue-2", new HubCloudMessage("2"u8.ToArray()), Ct);
        var third = bed.Hub.SendCloudToDeviceAsync("queue-2", new HubCloudMessage("3"u8.ToArray()), Ct);
        await refusedLog.Seen.Task.WaitAsync(Ct);
        release.SetResult();
        await first.WaitAsync(HangGuard, Ct);
        await second.WaitAsync(HangGuard, Ct);
        var fourth = bed.Hub.SendCloudToDeviceAsync("queue-2", new HubCloudMessage("4"u8.ToArray()), Ct);
        await fourth.WaitAsync(HangGuard, Ct);

        Assert.Equal(["1", "2", "4"], await ReadAvailableAsync(seen.Reader, 3));
        Assert.False(third.IsCompleted);
    }

    [Fact]
    public async Task Desired_WhenTheQueueIsFull_TheDroppedValuesArriveInTheWholeDocument()
    {
        await using var bed = await HubTestBed.StartAsync();
        var client = await bed.OpenSymmetricAsync("queue-3", o => o.ReceiveQueueCapacity = 1);
        var entered = new TaskCompletionSource();
        var release = new TaskCompletionSource();
        var updates = System.Threading.Channels.Channel.CreateUnbounded<DesiredPropertyUpdate>();
        client.SetDesiredPropertyUpdateHandler(async (u, _) =>
        {
            await updates.Writer.WriteAsync(u, Ct);
            entered.TrySetResult();
            await release.Task;
        });

        await bed.Hub.UpdateDesiredAsync("queue-3", "{\"first\":1}", Ct);
        await entered.Task.WaitAsync(Ct);
        await bed.Hub.UpdateDesiredAsync("queue-3", "{\"a\":3}", Ct);
        await bed.Hub.UpdateDesiredAsync("queue-3", "{\"b\":4}", Ct);
        await client.GetTwinAsync(Ct);
        release.SetResult();

        // Patch "a" was dropped for "b"; its value comes with the document fetched afterwards.
        DesiredPropertyUpdate update;
        do
        {
            update = await updates.Reader.ReadAsync(Ct).AsTask().WaitAsync(HangGuard, Ct);
        }
        while (update.Patch["a"] is null);

        Assert.Equal(4, update.Version);
        Assert.Equal((3, 4), (update.Patch["a"]!.GetValue<int>(), update.Patch["b"]!.GetValue<int>()));
    }

    private static async Task<List<string>> ReadAvailableAsync(System.Threading.Channels.ChannelReader<string> reader, int count)
    {
        var items = new List<string>();
        while (items.Count < count)
        {
            items.Add(await reader.ReadAsync(Ct));
        }

        while (reader.TryRead(out var extra))
        {
            items.Add(extra);
        }

        return items;
    }

    /// <summary>Signals when a log message containing a phrase is written.</summary>
    private sealed class SignalingLoggerFactory(string phrase) : Microsoft.Extensions.Logging.ILoggerFactory, Microsoft.Extensions.Logging.ILogger
    {
        public TaskCompletionSource Seen { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Microsoft.Extensions.Logging.ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(Microsoft.Extensions.Logging.ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (formatter(state, exception).Contains(phrase, StringComparison.Ordinal))
            {
                Seen.TrySetResult();
            }
        }

        public void Dispose()
        {
        }
    }
}

using Microsoft.Extensions.Time.Testing;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Device.Hub.Tests;

/// <summary>Renewal on a fake clock, broker restarts and refusals: timing-sensitive, so this class runs alone, after the
/// parallel ones (a rare stall of the renewal test was seen only while other classes loaded the machine).</summary>
[Collection(nameof(RenewalAndReconnectTests))]
public sealed class RenewalAndReconnectTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Real time allowed for a step that takes milliseconds, so a regression fails instead of hanging the run.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        while (!condition())
        {
            await Task.Delay(10, Ct);
        }
    }

    private static HubMessage Numbered(int i) => new(new byte[] { (byte)i }) { MessageId = $"n{i}" };

    [Fact]
    public async Task SasToken_NearExpiry_IsRenewedByReconnecting_AndMessagesAroundItArriveExactlyOnce()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var bed = await HubTestBed.StartAsync(time);
        var client = await bed.OpenSymmetricAsync("renew-1", o =>
        {
            o.SasTokenLifetime = TimeSpan.FromMinutes(10);

            // The reconnect backoff runs on the same fake clock, which moves only when the test advances it: should the
            // renewal's reconnect fail once on a busy machine, a non-zero backoff would wait forever. This test is about renewal.
            o.MinReconnectDelay = TimeSpan.Zero;
            o.MaxReconnectDelay = TimeSpan.Zero;
        });
        var states = new List<ConnectionStateChangedEventArgs>();
        client.ConnectionStateChanged += (_, e) => { lock (states) { states.Add(e); } };

        var before = Enumerable.Range(0, 20).Select(i => client.SendEventAsync(Numbered(i), Ct)).ToList();
        time.Advance(TimeSpan.FromMinutes(9)); // past 85 % of the lifetime: renewal is due
        var during = Enumerable.Range(20, 20).Select(i => client.SendEventAsync(Numbered(i), Ct)).ToList();
        await Task.WhenAll(before.Concat(during)).WaitAsync(HangGuard, Ct);
        await WaitUntilAsync(() => bed.Hub.GetConnectionCount("renew-1") == 2 && client.State == ConnectionState.Connected)
            .WaitAsync(HangGuard, Ct);

        time.Advance(TimeSpan.FromMinutes(2)); // the first token has now expired: only the renewed one can publish
        await Task.WhenAll(Enumerable.Range(40, 20).Select(i => client.SendEventAsync(Numbered(i), Ct))).WaitAsync(HangGuard, Ct);

        var ids = bed.Hub.GetTelemetry("renew-1").Select(m => m.MessageId).ToList();
        Assert.Equal(Enumerable.Range(0, 60).Select(i => $"n{i}").Order(), ids.Order());
        Assert.Equal(2, bed.Hub.GetConnectionCount("renew-1"));
        lock (states)
        {
            Assert.Contains(states, s => s.Reason == ConnectionChangeReason.TokenRenewal);
        }
    }

    [Fact]
    public async Task BrokerRestart_ClientReconnects_AndMessagesQueuedMeanwhileArrive()
    {
        await using var bed = await HubTestBed.StartAsync();
        var client = await bed.OpenSymmetricAsync("restart-1");
        await client.SendEventAsync(Numbered(0), Ct);

        await bed.Hub.StopAsync(Ct);
        await WaitUntilAsync(() => client.State != ConnectionState.Connected);
        var queued = Enumerable.Range(1, 10).Select(i => client.SendEventAsync(Numbered(i), Ct)).ToList();
        Assert.All(queued, t => Assert.False(t.IsCompleted));
        await bed.Hub.StartAsync(Ct);
        await Task.WhenAll(queued);

        var ids = bed.Hub.GetTelemetry("restart-1").Select(m => m.MessageId).Distinct().Order().ToList();
        Assert.Equal(Enumerable.Range(0, 11).Select(i => $"n{i}").Order(), ids);
        Assert.Equal(ConnectionState.Connected, client.State);
    }

    [Fact]
    public async Task DeviceDisabledAfterConnect_TriggersTheReprovisioningHook()
    {
        await using var bed = await HubTestBed.StartAsync();
        var hook = new TaskCompletionSource<HubRefusal>();
        var client = await bed.OpenSymmetricAsync("disable-1", o => o.ReprovisionRequired = (refusal, _) =>
        {
            hook.TrySetResult(refusal);
            return ValueTask.CompletedTask;
        });

        await bed.Hub.SetDeviceEnabledAsync("disable-1", false, Ct);

        var refusal = await hook.Task.WaitAsync(Ct);
        Assert.Equal(new HubRefusal(HubTestBed.HubName, "disable-1", 5), refusal);
        Assert.Equal(ConnectionState.Refused, client.State);
        var error = await Assert.ThrowsAsync<HubException>(() => client.SendEventAsync(Numbered(1), Ct));
        Assert.Equal(5, error.Status);
    }

    [Fact]
    public async Task ReprovisioningHook_MayDisposeTheClient_WithoutDeadlock()
    {
        await using var bed = await HubTestBed.StartAsync();
        DeviceClient? client = null;
        var disposed = new TaskCompletionSource();
        client = await bed.OpenSymmetricAsync("disable-2", o => o.ReprovisionRequired = async (_, _) =>
        {
            await client!.DisposeAsync();
            disposed.TrySetResult();
        });

        await bed.Hub.SetDeviceEnabledAsync("disable-2", false, Ct);

        await disposed.Task.WaitAsync(Ct);
        Assert.Equal(ConnectionState.Closed, client.State);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => client.SendEventAsync(Numbered(1), Ct));
    }

    [Fact]
    public async Task Dispose_WhileSendsWaitForAConnection_FailsThemWithObjectDisposed()
    {
        await using var bed = await HubTestBed.StartAsync();
        var client = await bed.OpenSymmetricAsync("dispose-1");
        await bed.Hub.StopAsync(Ct);
        await WaitUntilAsync(() => client.State != ConnectionState.Connected);
        var waiting = client.SendEventAsync(Numbered(1), Ct);

        await client.DisposeAsync();

        await Assert.ThrowsAsync<ObjectDisposedException>(() => waiting);
    }

    [Fact]
    public async Task Open_UnknownDevice_IsRefusedNotRetried()
    {
        await using var bed = await HubTestBed.StartAsync();
        var client = bed.Create("nobody", HubAuthentication.FromSymmetricKey(new byte[32]));

        var error = await Assert.ThrowsAsync<HubException>(() => client.OpenAsync(Ct));

        Assert.Equal(5, error.Status);
        Assert.Equal(0, bed.Hub.GetConnectionCount("nobody"));
    }

    [Fact]
    public void Backoff_DoublesFromTheMinimum_UpToTheCap_WithJitterInTheUpperHalf()
    {
        var jitter = 0.0;
        var client = new DeviceClient("h", "d", HubAuthentication.FromSymmetricKey(new byte[1]), new DeviceClientOptions
        {
            MinReconnectDelay = TimeSpan.FromSeconds(1),
            MaxReconnectDelay = TimeSpan.FromSeconds(10),
            Jitter = () => jitter,
        });

        Assert.Equal(TimeSpan.FromSeconds(0.5), client.BackoffDelay(1));
        Assert.Equal(TimeSpan.FromSeconds(2), client.BackoffDelay(3));
        jitter = 0.999999;
        Assert.Equal(10, client.BackoffDelay(30).TotalSeconds, 3);
        Assert.Equal(4, client.BackoffDelay(3).TotalSeconds, 3);
    }
}

/// <summary>The collection of <see cref="RenewalAndReconnectTests"/>, run without parallel neighbours.</summary>
[CollectionDefinition(nameof(RenewalAndReconnectTests), DisableParallelization = true)]
public sealed class RenewalAndReconnectRunAlone;

namespace Provisioning.Device.Hub.Tests;

/// <summary>
/// A refusal is acted on before anyone is told (issue 11, case 7): <see cref="DeviceClient.OpenAsync"/> fails only after the
/// reprovisioning hook has finished, and its exception carries the refusal. A slow hook makes the old race certain, so this
/// fails on every run if the order is wrong, loaded machine or not.
/// </summary>
public sealed class RefusalOrderTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Open_WhenTheHubRefuses_FailsOnlyAfterTheHookRan_WithTheRefusalInTheException()
    {
        await using var bed = await HubTestBed.StartAsync();
        await bed.RegisterKeyAsync("refused-order");
        var hookFinished = 0;
        // A key the hub does not know for this device: CONNACK 5 (not authorized).
        var client = bed.Create("refused-order", HubAuthentication.FromSymmetricKey(new byte[32]), o => o.ReprovisionRequired = async (_, token) =>
        {
            // A hook that takes its time (it would write a cache, call DPS...): a wrong order would surface the refusal first.
            await Task.Delay(TimeSpan.FromMilliseconds(300), token);
            await Task.Yield();
            Volatile.Write(ref hookFinished, 1);
        });

        var error = await Assert.ThrowsAsync<HubException>(() => client.OpenAsync(Ct));

        Assert.Equal(1, Volatile.Read(ref hookFinished));
        Assert.False(error.IsTransient);
        Assert.True(error.RequiresReprovisioning);
        Assert.Equal(new HubRefusal(HubTestBed.HubName, "refused-order", 5), error.Refusal);
        Assert.Contains("CONNACK 5", error.Message, StringComparison.Ordinal);
        Assert.Contains("must register with DPS again", error.Message, StringComparison.Ordinal);
        Assert.Equal(ConnectionState.Refused, client.State);
    }

    [Fact]
    public async Task Open_WhenTheHookDisposesTheClient_StillFailsWithTheRefusal()
    {
        await using var bed = await HubTestBed.StartAsync();
        await bed.RegisterKeyAsync("refused-dispose");
        DeviceClient? client = null;
        client = bed.Create("refused-dispose", HubAuthentication.FromSymmetricKey(new byte[32]), o => o.ReprovisionRequired = async (_, _) =>
            await client!.DisposeAsync());

        var error = await Assert.ThrowsAsync<HubException>(() => client.OpenAsync(Ct));

        Assert.True(error.RequiresReprovisioning);
        Assert.Equal(5, error.Refusal!.ConnectCode);
    }
}

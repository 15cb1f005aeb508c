namespace Provisioning.Device.Hub.Tests;

/// <summary>One bad request or handler result costs that item only: the dispatch loops keep serving later ones.</summary>
public sealed class DispatcherResilienceTests
{
    private static readonly TimeSpan MethodTimeout = TimeSpan.FromSeconds(20);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DirectMethod_WhenTheHandlerReturnsNull_Answers500AndLaterMethodsAreStillAnswered()
    {
        await using var bed = await HubTestBed.StartAsync();
        var client = await bed.OpenSymmetricAsync("resilient-1");
        client.SetMethodHandler("broken", (_, _) => ValueTask.FromResult<MethodResponse>(null!));
        client.SetMethodHandler("ping", (_, _) => ValueTask.FromResult(new MethodResponse(200, "\"pong\""u8.ToArray())));

        var broken = await bed.Hub.InvokeMethodAsync("resilient-1", "broken", "{}", MethodTimeout, Ct);
        var ping = await bed.Hub.InvokeMethodAsync("resilient-1", "ping", "{}", MethodTimeout, Ct);

        Assert.Equal(500, broken.Status);
        Assert.Equal(200, ping.Status);
        Assert.Equal("\"pong\"", ping.Payload);
    }
}

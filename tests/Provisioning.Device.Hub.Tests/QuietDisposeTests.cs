using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using System.Text;

namespace Provisioning.Device.Hub.Tests;

/// <summary>Closing a client ends its background work (connection loop, dispatchers) by completion, not by exceptions: on a
/// native build the first exceptions of a process page in unwind data, which a small device pays in RSS
/// (tests/Provisioning.Device.Benchmarks/README.md, "Small devices"). Alone in its collection: the first-chance handler sees the
/// whole process.</summary>
[Collection(nameof(QuietDisposeTests))]
public sealed class QuietDisposeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DisposeAsync_OfAnOpenClientWithAllHandlers_ThrowsNoExceptionInTheClientsOwnCode()
    {
        await using var bed = await HubTestBed.StartAsync();
        var client = await bed.OpenSymmetricAsync("quiet-1");
        client.SetMessageHandler((_, _) => ValueTask.CompletedTask);
        client.SetMethodHandler("reboot", (_, _) => ValueTask.FromResult(new MethodResponse(200, "{}"u8.ToArray())));
        client.SetDesiredPropertyUpdateHandler((_, _) => ValueTask.CompletedTask);
        await client.SendEventAsync(new HubMessage(Encoding.UTF8.GetBytes("{}")), Ct);

        var thrownByClient = new ConcurrentQueue<string>();
        void Record(object? sender, FirstChanceExceptionEventArgs e)
        {
            // The frame that threw (or rethrew) it: the first one on the stack that is neither the runtime's nor this handler's.
            var thrower = ThrowingFrame(Environment.StackTrace);
            if (thrower.StartsWith("Provisioning.Device.Hub.DeviceClient", StringComparison.Ordinal))
            {
                thrownByClient.Enqueue($"{e.Exception.GetType().Name} in {thrower}");
            }
        }

        AppDomain.CurrentDomain.FirstChanceException += Record;
        try
        {
            await client.DisposeAsync();
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Record;
        }

        Assert.Equal(ConnectionState.Closed, client.State);
        Assert.Empty(thrownByClient);
    }

    private static string ThrowingFrame(string stackTrace)
    {
        var pastHandler = false;
        foreach (var raw in stackTrace.Split('\n'))
        {
            var line = raw.Trim();
            if (!line.StartsWith("at ", StringComparison.Ordinal))
            {
                continue;
            }

            var frame = line[3..];
            if (frame.Contains(nameof(QuietDisposeTests), StringComparison.Ordinal))
            {
                pastHandler = true;
                continue;
            }

            if (pastHandler && !frame.StartsWith("System.", StringComparison.Ordinal))
            {
                return frame;
            }
        }

        return string.Empty;
    }
}

[CollectionDefinition(nameof(QuietDisposeTests), DisableParallelization = true)]
public sealed class QuietDisposeTestsAlone;

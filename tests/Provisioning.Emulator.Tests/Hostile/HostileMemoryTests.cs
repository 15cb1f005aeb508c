using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Hostile;

/// <summary>
/// What hostile MQTT clients cost the process: before the cap, each unauthenticated client announcing 256 MB made the server
/// allocate 256 MB. Runs alone (after the parallel classes) so the process-wide allocation count is this test's.
/// </summary>
[Collection(nameof(HostileMemoryTests))]
public sealed class HostileMemoryTests
{
    [Fact]
    public async Task SixteenClientsAnnouncing256MB_CostTheServerLittle_AndMemoryReturnsAfterTheyClose()
    {
        await using var dps = await TestDps.StartAsync();
        var hub = dps.IotHubs[0];
        var mqttPort = int.Parse(dps.MqttEndpoint![(dps.MqttEndpoint!.LastIndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture);

        // Warm up the TLS and MQTT paths once so their one-time allocations are not counted.
        await AttackAsync(dps, mqttPort, "localhost");
        await AttackAsync(dps, hub.EndPoint.Port, hub.HubHostName);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);

        for (var i = 0; i < 8; i++)
        {
            await Task.WhenAll(AttackAsync(dps, mqttPort, "localhost"), AttackAsync(dps, hub.EndPoint.Port, hub.HubHostName));
        }

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        var heapAfter = GC.GetTotalMemory(forceFullCollection: true);

        // 16 × 256 MB were announced; TLS handshakes and the test's own buffers cost far less than 64 MB in all.
        Assert.True(allocated < 64L * 1024 * 1024, $"{allocated / 1024 / 1024} MB allocated for 16 hostile connections");
        Assert.True(heapAfter - heapBefore < 16L * 1024 * 1024, $"the heap grew by {(heapAfter - heapBefore) / 1024 / 1024} MB and stayed");
    }

    private static async Task AttackAsync(DpsEmulator dps, int port, string host)
    {
        var (tcp, tls) = await TestTls.OpenAsync(dps, port, host);
        using var _ = tcp;
        await using var __ = tls;
        await tls.WriteAsync(new byte[] { 0x10, 0xFF, 0xFF, 0xFF, 0x7F }, TestContext.Current.CancellationToken);
        await tls.FlushAsync(TestContext.Current.CancellationToken);
        Assert.Equal(0, await TestTls.ReadUntilClosedAsync(tls, TimeSpan.FromSeconds(30)));
    }
}

[CollectionDefinition(nameof(HostileMemoryTests), DisableParallelization = true)]
public sealed class HostileMemoryDefinition
{
}

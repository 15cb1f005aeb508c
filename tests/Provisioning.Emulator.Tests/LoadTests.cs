using System.Collections.Concurrent;
using System.Net;

using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

public sealed class LoadTests
{
    [Fact]
    public async Task Register_2000ConcurrentGroupDevices_AllAssignedOnceWithNoneLost()
    {
        const int Devices = 2000;
        var data = TestDps.TempDirectory();
        try
        {
            await using var dps = await TestDps.StartAsync(o =>
            {
                o.DataDirectory = data;
                o.Hubs.Add(new LinkedHub("hub-a.localhost"));
                o.Hubs.Add(new LinkedHub("hub-b.localhost"));
                o.Hubs.Add(new LinkedHub("hub-c.localhost"));
            });
            var group = await dps.Enrollments.AddSymmetricKeyGroupAsync("load", cancellationToken: TestContext.Current.CancellationToken);
            using var client = TestDps.Client(dps);
            var operations = new ConcurrentDictionary<string, string>();
            var assigned = new ConcurrentDictionary<string, string>();

            await Parallel.ForEachAsync(Enumerable.Range(0, Devices), new ParallelOptions { MaxDegreeOfParallelism = Devices, CancellationToken = TestContext.Current.CancellationToken }, async (i, ct) =>
            {
                var id = $"load-{i:D4}";
                var sas = TestSas.ForDevice(group.DeriveDeviceKey(id), dps.IdScope, id);
                using var put = await client.SendAsync(TestDps.Register(dps, id, sas: sas), ct);
                Assert.Equal(HttpStatusCode.Accepted, put.StatusCode);
                var operationId = (await TestDps.JsonAsync(put)).GetProperty("operationId").GetString()!;
                Assert.True(operations.TryAdd(operationId, id), "duplicate operation id");
                using var get = await client.SendAsync(TestDps.Operation(dps, id, operationId, sas), ct);
                Assert.Equal(HttpStatusCode.OK, get.StatusCode);
                var state = (await TestDps.JsonAsync(get)).GetProperty("registrationState");
                Assert.Equal(id, state.GetProperty("registrationId").GetString());
                Assert.True(assigned.TryAdd(id, state.GetProperty("assignedHub").GetString()!), "duplicate registration");
            });

            Assert.Equal(Devices, assigned.Count);
            foreach (var (id, hub) in assigned)
            {
                Assert.NotNull(await dps.HubRegistry.FindAsync(hub, id, TestContext.Current.CancellationToken));
            }

            await dps.DisposeAsync();
            await using var reopened = await TestDps.StartAsync(o => o.DataDirectory = data);
            var persisted = 0;
            foreach (var (id, hub) in assigned)
            {
                persisted += await reopened.HubRegistry.FindAsync(hub, id, TestContext.Current.CancellationToken) is null ? 0 : 1;
            }

            Assert.Equal(Devices, persisted);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}

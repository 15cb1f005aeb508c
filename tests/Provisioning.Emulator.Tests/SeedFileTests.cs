using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

public sealed class SeedFileTests
{
    [Fact]
    public async Task Start_WithSeedFile_LinksItsHubsAndStoresItsEnrollments()
    {
        var data = TestDps.TempDirectory();
        try
        {
            var key = Convert.ToBase64String(new byte[32]);
            var seed = Path.Combine(data, "seed.json");
            await File.WriteAllTextAsync(seed, $$"""
                {
                  "hubs": [ { "hostName": "seeded-hub.localhost", "region": "westeurope" } ],
                  "enrollments": [ { "registrationId": "seeded-01", "attestation": { "type": "symmetricKey", "symmetricKey": { "primaryKey": "{{key}}", "secondaryKey": "{{key}}" } } } ],
                  "enrollmentGroups": [ { "enrollmentGroupId": "seeded-group", "attestation": { "type": "symmetricKey", "symmetricKey": { "primaryKey": "{{key}}" } } } ]
                }
                """, TestContext.Current.CancellationToken);
            await using var dps = await TestDps.StartAsync(o => o.SeedFile = seed);
            using var client = TestDps.Client(dps);

            var individual = await TestDps.RegisterToEndAsync(client, dps, "seeded-01", TestSas.ForDevice(key, dps.IdScope, "seeded-01"));
            var member = await TestDps.RegisterToEndAsync(client, dps, "member-01", TestSas.ForDevice(TestSas.DeriveDeviceKey(key, "member-01"), dps.IdScope, "member-01"));

            Assert.Equal("seeded-hub.localhost", individual.GetProperty("registrationState").GetProperty("assignedHub").GetString());
            Assert.Equal("seeded-group", member.GetProperty("registrationState").GetProperty("symmetricKey").GetProperty("enrollmentGroupId").GetString());
            Assert.Equal("seeded-hub.localhost", Assert.Single(dps.Hubs).HostName);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Start_WithInvalidSeedEnrollment_ThrowsArgumentException()
    {
        var data = TestDps.TempDirectory();
        try
        {
            var seed = Path.Combine(data, "seed.json");
            await File.WriteAllTextAsync(seed, """{"enrollments":[{"registrationId":"x","attestation":{"type":"nope"}}]}""", TestContext.Current.CancellationToken);

            await Assert.ThrowsAsync<ArgumentException>(() => TestDps.StartAsync(o => o.SeedFile = seed));
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task Start_WithASeedGroupWhosePreviewFieldIsInvalid_ThrowsNamingTheField()
    {
        var data = TestDps.TempDirectory();
        try
        {
            var seed = Path.Combine(data, "seed.json");
            await File.WriteAllTextAsync(seed, """{"enrollmentGroups":[{"enrollmentGroupId":"g","credentialPolicyName":"","attestation":{"type":"symmetricKey"}}]}""", TestContext.Current.CancellationToken);

            var ex = await Assert.ThrowsAsync<ArgumentException>(() => TestDps.StartAsync(o => o.SeedFile = seed));
            Assert.Contains("credentialPolicyName", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }
}

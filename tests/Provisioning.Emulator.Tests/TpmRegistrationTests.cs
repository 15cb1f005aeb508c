using System.Net;
using System.Security.Cryptography;

using Provisioning.Emulator.Hubs;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

public sealed class TpmRegistrationTests
{
    private static readonly byte[] Ek = RandomNumberGenerator.GetBytes(316);
    private static readonly byte[] Srk = RandomNumberGenerator.GetBytes(284);

    private static string Body(string registrationId, byte[]? ek = null) =>
        $"{{\"registrationId\":\"{registrationId}\",\"tpm\":{{\"endorsementKey\":\"{Convert.ToBase64String(ek ?? Ek)}\",\"storageRootKey\":\"{Convert.ToBase64String(Srk)}\"}}}}";

    [Fact]
    public async Task Register_WithoutSas_Answers401ChallengeThenAcceptsSasSignedWithTheWrappedKey()
    {
        var issuer = new FakeTpmIssuer();
        await using var dps = await TestDps.StartAsync(o => o.TpmCredentialIssuer = issuer);
        await dps.Enrollments.AddTpmAsync("tpm-01", Ek, cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        using var first = await client.SendAsync(TestDps.Register(dps, "tpm-01", Body("tpm-01")), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);
        var challenge = await TestDps.JsonAsync(first);
        Assert.Equal("registration", challenge.GetProperty("keyName").GetString());
        Assert.False(challenge.TryGetProperty("status", out _));
        var key = issuer.Activate(challenge.GetProperty("authenticationKey").GetString()!);

        var sas = TestSas.Create(key, $"{dps.IdScope}/registrations/tpm-01", DateTimeOffset.UtcNow.AddDays(1));
        var final = await TestDps.RegisterToEndAsync(client, dps, "tpm-01", sas, Body("tpm-01"));

        var state = final.GetProperty("registrationState");
        Assert.Equal("assigned", state.GetProperty("status").GetString());
        var hubBlob = state.GetProperty("tpm").GetProperty("authenticationKey").GetString()!;
        Assert.NotEqual(challenge.GetProperty("authenticationKey").GetString(), hubBlob);
        var device = await dps.HubRegistry.FindAsync("hub1.localhost", "tpm-01", TestContext.Current.CancellationToken);
        Assert.Equal(HubCredentialKind.Tpm, device!.Kind);
        Assert.Equal(issuer.Activate(hubBlob), device.PrimaryKey);
    }

    [Fact]
    public async Task Register_WithSasFromAnotherKey_Answers401002()
    {
        var issuer = new FakeTpmIssuer();
        await using var dps = await TestDps.StartAsync(o => o.TpmCredentialIssuer = issuer);
        await dps.Enrollments.AddTpmAsync("tpm-02", Ek, cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);
        using var first = await client.SendAsync(TestDps.Register(dps, "tpm-02", Body("tpm-02")), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Unauthorized, first.StatusCode);

        var sas = TestSas.Create(RandomNumberGenerator.GetBytes(32), $"{dps.IdScope}/registrations/tpm-02", DateTimeOffset.UtcNow.AddDays(1));
        using var second = await client.SendAsync(TestDps.Register(dps, "tpm-02", Body("tpm-02"), sas), TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(second, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task Register_WithAnotherEndorsementKey_Answers401002()
    {
        await using var dps = await TestDps.StartAsync(o => o.TpmCredentialIssuer = new FakeTpmIssuer());
        await dps.Enrollments.AddTpmAsync("tpm-03", Ek, cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        using var response = await client.SendAsync(TestDps.Register(dps, "tpm-03", Body("tpm-03", RandomNumberGenerator.GetBytes(316))), TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task Register_WhenNoTpmIssuerIsConfigured_Answers400005()
    {
        await using var dps = await TestDps.StartAsync(o => o.TpmCredentialIssuer = null);
        await dps.Enrollments.AddTpmAsync("tpm-04", Ek, cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        using var response = await client.SendAsync(TestDps.Register(dps, "tpm-04", Body("tpm-04")), TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(response, HttpStatusCode.BadRequest, 400005);
    }

    [Fact]
    public async Task Register_WhenTheIssuerRejectsTheKeys_Answers400006()
    {
        var shortEk = new byte[] { 1, 2, 3 };
        await using var dps = await TestDps.StartAsync(o => o.TpmCredentialIssuer = new FakeTpmIssuer());
        await dps.Enrollments.AddTpmAsync("tpm-05", shortEk, cancellationToken: TestContext.Current.CancellationToken);
        using var client = TestDps.Client(dps);

        using var response = await client.SendAsync(TestDps.Register(dps, "tpm-05", Body("tpm-05", shortEk)), TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(response, HttpStatusCode.BadRequest, 400006);
    }
}

using System.Net;
using System.Security.Cryptography;

using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

public sealed class DeviceApiErrorTests : IAsyncLifetime
{
    private DpsEmulator _dps = null!;
    private HttpClient _client = null!;
    private SymmetricKeyPair _keys = null!;

    public async ValueTask InitializeAsync()
    {
        _dps = await TestDps.StartAsync();
        _client = TestDps.Client(_dps);
        _keys = await _dps.Enrollments.AddSymmetricKeyAsync("dev", cancellationToken: TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _dps.DisposeAsync();
    }

    private string Sas(string registrationId = "dev") => TestSas.ForDevice(_keys.PrimaryKey, _dps.IdScope, registrationId);

    private Task<HttpResponseMessage> SendAsync(HttpRequestMessage request) => _client.SendAsync(request, TestContext.Current.CancellationToken);

    [Fact]
    public async Task Register_WithoutApiVersion_Answers400002()
    {
        using var response = await SendAsync(TestDps.Request(HttpMethod.Put, $"{_dps.IdScope}/registrations/dev/register", "{}", Sas()));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.BadRequest, 400002);
    }

    [Fact]
    public async Task Register_WithUnknownApiVersion_Answers400002()
    {
        using var response = await SendAsync(TestDps.Register(_dps, "dev", sas: Sas(), apiVersion: "2018-11-01"));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.BadRequest, 400002);
    }

    [Fact]
    public async Task OperationStatus_WithUnknownApiVersion_Answers400002()
    {
        using var response = await SendAsync(TestDps.Operation(_dps, "dev", "4.x", Sas(), apiVersion: "nope"));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.BadRequest, 400002);
    }

    [Fact]
    public async Task Register_WithUnknownRegistration_Answers401002()
    {
        using var response = await SendAsync(TestDps.Register(_dps, "ghost", sas: TestSas.ForDevice(_keys.PrimaryKey, _dps.IdScope, "ghost")));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task Register_WithBadSignature_Answers401002()
    {
        var sas = TestSas.ForDevice(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), _dps.IdScope, "dev");
        using var response = await SendAsync(TestDps.Register(_dps, "dev", sas: sas));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task Register_WithExpiredSas_Answers401003()
    {
        var sas = TestSas.ForDevice(_keys.PrimaryKey, _dps.IdScope, "dev", lifetime: TimeSpan.FromMinutes(-10));
        using var response = await SendAsync(TestDps.Register(_dps, "dev", sas: sas));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401003);
    }

    [Fact]
    public async Task Register_WithSasJustExpiredWithinSkew_IsAccepted()
    {
        var sas = TestSas.ForDevice(_keys.PrimaryKey, _dps.IdScope, "dev", lifetime: TimeSpan.FromSeconds(-20));
        using var response = await SendAsync(TestDps.Register(_dps, "dev", sas: sas));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task Register_WithSasForAnotherRegistration_Answers401002()
    {
        var sas = TestSas.ForDevice(_keys.PrimaryKey, _dps.IdScope, "other");
        using var response = await SendAsync(TestDps.Register(_dps, "dev", sas: sas));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task Register_WithWrongKeyName_Answers401002()
    {
        var sas = TestSas.Create(Convert.FromBase64String(_keys.PrimaryKey), $"{_dps.IdScope}/registrations/dev", DateTimeOffset.UtcNow.AddHours(1), keyName: "owner");
        using var response = await SendAsync(TestDps.Register(_dps, "dev", sas: sas));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task Register_WithMalformedToken_Answers401004()
    {
        using var response = await SendAsync(TestDps.Register(_dps, "dev", sas: "SharedAccessSignature sr=x&sig=%%%&se=abc"));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401004);
    }

    [Fact]
    public async Task Register_WithoutAnyCredential_Answers401002()
    {
        using var response = await SendAsync(TestDps.Register(_dps, "dev"));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Theory]
    [InlineData("{\"registrationId\":")]
    [InlineData("[1,2]")]
    [InlineData("{\"registrationId\":42}")]
    [InlineData("null")]
    public async Task Register_WithMalformedJson_Answers400001(string body)
    {
        using var response = await SendAsync(TestDps.Register(_dps, "dev", body, Sas()));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.BadRequest, 400001);
    }

    [Fact]
    public async Task Register_WithBodyRegistrationIdDifferentFromUrl_Answers400004()
    {
        using var response = await SendAsync(TestDps.Register(_dps, "dev", "{\"registrationId\":\"other\"}", Sas()));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.BadRequest, 400004);
    }

    [Fact]
    public async Task Register_WithBodyOver96KB_Answers413001()
    {
        var body = "{\"registrationId\":\"dev\",\"payload\":{\"p\":\"" + new string('a', 97 * 1024) + "\"}}";
        using var response = await SendAsync(TestDps.Register(_dps, "dev", body, Sas()));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, 413001);
    }

    [Fact]
    public async Task Register_WithChunkedBodyOver96KB_Answers413001()
    {
        var body = "{\"registrationId\":\"dev\",\"payload\":{\"p\":\"" + new string('a', 500 * 1024) + "\"}}";
        using var request = TestDps.Register(_dps, "dev", sas: Sas());
        request.Content = new StreamContent(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(body)));
        request.Headers.TransferEncodingChunked = true;

        using var response = await SendAsync(request);

        await TestDps.AssertErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, 413001);
    }

    [Fact]
    public async Task DeviceApi_WithArbitraryBodiesAndTokens_NeverAnswers500()
    {
        var random = new Random(1234);
        string[] tokens = ["", "SharedAccessSignature", "SharedAccessSignature sr=&sig=&se=", "SharedAccessSignature sr=a%zz&sig=AAAA&se=99999999999999999999&skn=registration", Sas(), "Bearer x"];
        for (var i = 0; i < 60; i++)
        {
            var bytes = new byte[random.Next(0, 300)];
            random.NextBytes(bytes);
            string[] bodies = [System.Text.Encoding.Latin1.GetString(bytes), "{\"tpm\":{\"endorsementKey\":\"@@\"}}", "{\"payload\":" + new string('[', 100) + new string(']', 100) + "}", "{\"registrationId\":\"dev\",\"tpm\":{}}"];
            var path = (i % 3) switch
            {
                0 => $"{_dps.IdScope}/registrations/dev/register?api-version=2019-03-31",
                1 => $"{_dps.IdScope}/registrations/dev?api-version=2021-06-01",
                _ => $"{_dps.IdScope}/registrations/dev/operations/{Uri.EscapeDataString(bodies[0])}?api-version=2019-03-31",
            };
            var method = (i % 3) switch { 0 => HttpMethod.Put, 1 => HttpMethod.Post, _ => HttpMethod.Get };
            using var request = TestDps.Request(method, path, method == HttpMethod.Get ? null : bodies[i % bodies.Length], tokens[i % tokens.Length].Length == 0 ? null : tokens[i % tokens.Length]);

            using var response = await SendAsync(request);

            Assert.True((int)response.StatusCode < 500, $"case {i} answered {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task Register_WithBodyJustUnder96KB_IsAccepted()
    {
        var body = "{\"registrationId\":\"dev\",\"payload\":{\"p\":\"" + new string('a', (96 * 1024) - 100) + "\"}}";
        using var response = await SendAsync(TestDps.Register(_dps, "dev", body, Sas()));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
    }

    [Fact]
    public async Task OperationStatus_WithUnknownOperationId_Answers404204()
    {
        using var response = await SendAsync(TestDps.Operation(_dps, "dev", "4.0000.unknown", Sas()));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.NotFound, 404204);
    }

    [Fact]
    public async Task OperationStatus_OfAnotherRegistrationsOperation_Answers404204()
    {
        var other = await _dps.Enrollments.AddSymmetricKeyAsync("dev-b", cancellationToken: TestContext.Current.CancellationToken);
        var sasB = TestSas.ForDevice(other.PrimaryKey, _dps.IdScope, "dev-b");
        using var put = await SendAsync(TestDps.Register(_dps, "dev-b", sas: sasB));
        var operationId = (await TestDps.JsonAsync(put)).GetProperty("operationId").GetString()!;

        using var response = await SendAsync(TestDps.Operation(_dps, "dev", operationId, Sas()));

        await TestDps.AssertErrorAsync(response, HttpStatusCode.NotFound, 404204);
    }

    [Fact]
    public async Task Register_WithUnknownIdScope_Answers404001()
    {
        using var response = await SendAsync(TestDps.Request(HttpMethod.Put, "0neFFFFFFFF/registrations/dev/register?api-version=2019-03-31", "{}", Sas()));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.NotFound, 404001);
    }

    [Fact]
    public async Task Register_WithInvalidRegistrationId_Answers400004()
    {
        using var response = await SendAsync(TestDps.Request(HttpMethod.Put, $"{_dps.IdScope}/registrations/bad%20id/register?api-version=2019-03-31", "{}", Sas()));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.BadRequest, 400004);
    }

    [Fact]
    public async Task UnknownRoute_Answers404001()
    {
        using var response = await SendAsync(TestDps.Request(HttpMethod.Get, "nothing/here", null, null));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.NotFound, 404001);
    }

    [Fact]
    public async Task Register_WhenEnrollmentIsDisabled_EndsWithStatusDisabled()
    {
        var keys = await _dps.Enrollments.AddSymmetricKeyAsync("off", new EnrollmentSettings { Enabled = false }, TestContext.Current.CancellationToken);

        var final = await TestDps.RegisterToEndAsync(_client, _dps, "off", TestSas.ForDevice(keys.PrimaryKey, _dps.IdScope, "off"));

        Assert.Equal("disabled", final.GetProperty("status").GetString());
        Assert.Equal("disabled", final.GetProperty("registrationState").GetProperty("status").GetString());
        Assert.Null(await _dps.HubRegistry.FindAsync("hub1.localhost", "off", TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Register_WhenGroupIsDisabled_EndsWithStatusDisabled()
    {
        var group = await _dps.Enrollments.AddSymmetricKeyGroupAsync("off-group", new EnrollmentSettings { Enabled = false }, TestContext.Current.CancellationToken);

        var final = await TestDps.RegisterToEndAsync(_client, _dps, "member", TestSas.ForDevice(group.DeriveDeviceKey("member"), _dps.IdScope, "member"));

        Assert.Equal("disabled", final.GetProperty("status").GetString());
    }

    [Fact]
    public async Task StatusLookup_BeforeAnyRegistration_Answers404001()
    {
        using var response = await SendAsync(TestDps.Request(HttpMethod.Post, $"{_dps.IdScope}/registrations/dev?api-version=2019-03-31", "{\"registrationId\":\"dev\"}", Sas()));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.NotFound, 404001);
    }

    [Fact]
    public async Task StatusLookup_WithCsr_Answers400001()
    {
        using var response = await SendAsync(TestDps.Request(HttpMethod.Post, $"{_dps.IdScope}/registrations/dev?api-version=2025-07-01-preview", "{\"registrationId\":\"dev\",\"csr\":\"AAAA\"}", Sas()));
        await TestDps.AssertErrorAsync(response, HttpStatusCode.BadRequest, 400001);
    }
}

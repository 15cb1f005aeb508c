using System.Net;

using Provisioning.Emulator.Tests.Support;
using Provisioning.Emulator.Tests.Tpm;

namespace Provisioning.Emulator.Tests.Service;

/// <summary>Enrollment ids and TPM endorsement keys are checked when enrolled, not when the device registers.</summary>
public sealed class EnrollmentValidationTests : IAsyncLifetime
{
    private DpsEmulator _dps = null!;
    private HttpClient _client = null!;
    private string _sas = null!;

    public async ValueTask InitializeAsync()
    {
        _dps = await TestDps.StartAsync();
        _client = TestDps.Client(_dps);
        _sas = ServiceSas.FromConnectionString(_dps.ServiceConnectionString);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _dps.DisposeAsync();
    }

    public static TheoryData<string> BadIds => ["adv$x", "adv x", new string('a', 129), "ends-with.", "ends_", "colon:", "ünï"];

    [Theory]
    [MemberData(nameof(BadIds))]
    public async Task PutEnrollment_WithAnIdTheDeviceApiRefuses_Answers400004NamingTheRule(string id)
    {
        using var put = await SendAsync($"enrollments/{Uri.EscapeDataString(id)}", "{\"attestation\":{\"type\":\"symmetricKey\"}}");
        await TestDps.AssertErrorAsync(put, HttpStatusCode.BadRequest, 400004);
        Assert.Contains("ending in a letter, a digit or '-'", (await TestDps.JsonAsync(put)).GetProperty("message").GetString(), StringComparison.Ordinal);

        using var group = await SendAsync($"enrollmentGroups/{Uri.EscapeDataString(id)}", "{\"attestation\":{\"type\":\"symmetricKey\"}}");
        await TestDps.AssertErrorAsync(group, HttpStatusCode.BadRequest, 400004);
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await _dps.Enrollments.AddSymmetricKeyAsync(id, cancellationToken: TestContext.Current.CancellationToken));
    }

    [Theory]
    [InlineData("a")]
    [InlineData("Dev-01.x_y:z-")]
    public async Task PutEnrollment_WithTheLongestAndOddestValidIds_IsAccepted(string id)
    {
        using var put = await SendAsync($"enrollments/{Uri.EscapeDataString(id)}", "{\"attestation\":{\"type\":\"symmetricKey\"}}");
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        using var longest = await SendAsync($"enrollments/{new string('b', 128)}", "{\"attestation\":{\"type\":\"symmetricKey\"}}");
        Assert.Equal(HttpStatusCode.OK, longest.StatusCode);
    }

    [Fact]
    public async Task PutTpmEnrollment_WithRandomBytesAsEndorsementKey_Answers400007NamingTheRule()
    {
        foreach (var ek in new[] { System.Security.Cryptography.RandomNumberGenerator.GetBytes(300), TpmTestKeys.Srk(TpmTestKeys.SampleModulus()), [0x00, 0x01, 0x00] })
        {
            using var put = await SendAsync("enrollments/tpm-bad",
                $"{{\"attestation\":{{\"type\":\"tpm\",\"tpm\":{{\"endorsementKey\":\"{Convert.ToBase64String(ek)}\"}}}}}}");
            await TestDps.AssertErrorAsync(put, HttpStatusCode.BadRequest, 400007);
            Assert.Contains("TCG EK template", (await TestDps.JsonAsync(put)).GetProperty("message").GetString(), StringComparison.Ordinal);
        }

        using var good = await SendAsync("enrollments/tpm-good",
            $"{{\"attestation\":{{\"type\":\"tpm\",\"tpm\":{{\"endorsementKey\":\"{Convert.ToBase64String(TpmTestKeys.Ek(TpmTestKeys.SampleModulus()))}\"}}}}}}");
        Assert.Equal(HttpStatusCode.OK, good.StatusCode);
    }

    private Task<HttpResponseMessage> SendAsync(string path, string body) =>
        _client.SendAsync(TestDps.Request(HttpMethod.Put, path + "?api-version=2021-10-01", body, _sas), TestContext.Current.CancellationToken);
}

using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

using Provisioning.Device.Tpm;
using Provisioning.Emulator.Hubs;
using Provisioning.Emulator.Tests.Support;
using Provisioning.Testing;

namespace Provisioning.Emulator.Tests.Interop;

/// <summary>The TPM flow against a real TPM (swtpm) over real HTTPS, the device played by hand with plain <see cref="HttpClient"/>
/// code and our <see cref="TpmIdentity"/>: challenge, activation, TPM-signed SAS, assignment, and the hub key activated again.</summary>
/// <remarks>dps-protocol.md §1.4, §1.6, §2.3, §2.4, §11.2–3 (issue 4).</remarks>
[Trait("Category", "Interop")]
public sealed class TpmSwtpmRegistrationTests(SwtpmFixture swtpm) : IClassFixture<SwtpmFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Register_WithSwtpm_ChallengeActivateSignedSas_AssignsWithAHubKeyTheTpmActivatesToo()
    {
        var instance = await swtpm.GetAsync();
        await using var dps = await TestDps.StartAsync();
        await using var tpm = TpmIdentity.Open(instance.TransportSpec);
        var registrationId = await tpm.GetRegistrationIdAsync(Ct);
        await dps.Enrollments.AddTpmAsync(registrationId, await tpm.GetEndorsementKeyAsync(Ct), cancellationToken: Ct);
        var body = $"{{\"registrationId\":\"{registrationId}\",\"tpm\":{{\"endorsementKey\":\"{Convert.ToBase64String(await tpm.GetEndorsementKeyAsync(Ct))}\","
            + $"\"storageRootKey\":\"{Convert.ToBase64String(await tpm.GetStorageRootKeyAsync(Ct))}\"}}}}";
        using var client = TestDps.Client(dps);

        // 1. No SAS: the 401 challenge carries the registration key wrapped to this TPM.
        using var challenge = await client.SendAsync(TestDps.Register(dps, registrationId, body), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, challenge.StatusCode);
        var challengeJson = await TestDps.JsonAsync(challenge);
        Assert.Equal("registration", challengeJson.GetProperty("keyName").GetString());
        var registrationBlob = challengeJson.GetProperty("authenticationKey").GetString()!;
        await tpm.ActivateIdentityKeyAsync(Convert.FromBase64String(registrationBlob), Ct);

        // 2. A SAS signed inside the TPM: 202 assigning, then 200 assigned.
        var sas = await TpmSasAsync(tpm, $"{dps.IdScope}/registrations/{registrationId}", "registration");
        using var accepted = await client.SendAsync(TestDps.Register(dps, registrationId, body, sas), Ct);
        var acceptedJson = await TestDps.JsonAsync(accepted);
        Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, $"PUT answered {(int)accepted.StatusCode}: {acceptedJson}");
        Assert.Equal("assigning", acceptedJson.GetProperty("status").GetString());
        using var final = await client.SendAsync(TestDps.Operation(dps, registrationId, acceptedJson.GetProperty("operationId").GetString()!, sas), Ct);
        var finalJson = await TestDps.JsonAsync(final);
        Assert.True(final.StatusCode == HttpStatusCode.OK, $"GET answered {(int)final.StatusCode}: {finalJson}");
        var state = finalJson.GetProperty("registrationState");
        Assert.Equal("assigned", state.GetProperty("status").GetString());

        // 3. A fresh blob for the hub: the TPM activates it, and its HMACs are the hub registry key's.
        var hubBlob = state.GetProperty("tpm").GetProperty("authenticationKey").GetString()!;
        Assert.NotEqual(registrationBlob, hubBlob);
        await tpm.ActivateIdentityKeyAsync(Convert.FromBase64String(hubBlob), Ct);
        var device = await dps.HubRegistry.FindAsync(state.GetProperty("assignedHub").GetString()!, state.GetProperty("deviceId").GetString()!, Ct);
        Assert.Equal(HubCredentialKind.Tpm, device!.Kind);
        var data = Encoding.UTF8.GetBytes($"{Uri.EscapeDataString($"{device.HubHostName}/devices/{device.DeviceId}")}\n1700000000");
        Assert.Equal(HMACSHA256.HashData(device.PrimaryKey!, data), await tpm.SignAsync(data, Ct));
    }

    [Fact]
    public async Task Register_WithSwtpm_SasFromAnotherKey_IsRefusedWith401002()
    {
        var instance = await swtpm.GetAsync();
        await using var dps = await TestDps.StartAsync();
        await using var tpm = TpmIdentity.Open(instance.TransportSpec);
        var registrationId = await tpm.GetRegistrationIdAsync(Ct);
        await dps.Enrollments.AddTpmAsync(registrationId, await tpm.GetEndorsementKeyAsync(Ct), cancellationToken: Ct);
        var body = $"{{\"registrationId\":\"{registrationId}\",\"tpm\":{{\"endorsementKey\":\"{Convert.ToBase64String(await tpm.GetEndorsementKeyAsync(Ct))}\","
            + $"\"storageRootKey\":\"{Convert.ToBase64String(await tpm.GetStorageRootKeyAsync(Ct))}\"}}}}";
        using var client = TestDps.Client(dps);
        using var challenge = await client.SendAsync(TestDps.Register(dps, registrationId, body), Ct);
        Assert.Equal(HttpStatusCode.Unauthorized, challenge.StatusCode);
        await tpm.ActivateIdentityKeyAsync(Convert.FromBase64String((await TestDps.JsonAsync(challenge)).GetProperty("authenticationKey").GetString()!), Ct);

        var forged = TestSas.Create(RandomNumberGenerator.GetBytes(32), $"{dps.IdScope}/registrations/{registrationId}", DateTimeOffset.UtcNow.AddHours(1));
        using var refused = await client.SendAsync(TestDps.Register(dps, registrationId, body, forged), Ct);

        await TestDps.AssertErrorAsync(refused, HttpStatusCode.Unauthorized, 401002);
    }

    /// <summary>A DPS SAS the way a TPM device writes it (§2.4): <c>sr</c> URL-encoded, HMAC of <c>sr\nse</c> computed in the TPM.</summary>
    private static async Task<string> TpmSasAsync(TpmIdentity tpm, string resource, string keyName)
    {
        var sr = Uri.EscapeDataString(resource);
        var se = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var signature = await tpm.SignAsync(Encoding.UTF8.GetBytes($"{sr}\n{se}"), Ct);
        return $"SharedAccessSignature sr={sr}&sig={Uri.EscapeDataString(Convert.ToBase64String(signature))}&se={se}&skn={keyName}";
    }
}

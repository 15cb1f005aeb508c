using System.Net;
using System.Text.Json;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests;

public sealed class TpmChallengeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly byte[] ChallengeBlob = [.. Enumerable.Range(1, 200).Select(i => (byte)i)];
    private static readonly byte[] AssignedBlob = [.. Enumerable.Range(50, 180).Select(i => (byte)i)];

    [Fact]
    public async Task Register_WithTpm_AnswersTheChallengeThenActivatesTheAssignedKey()
    {
        var tpm = new FakeTpmDevice();
        var attestation = new TpmAttestation(tpm);
        var handler = new ScriptedHttpHandler()
            .ThenRespond(HttpStatusCode.Unauthorized, Dps.Challenge(Convert.ToBase64String(ChallengeBlob)))
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning(), retryAfter: "0")
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned(tpm.RegistrationId, Convert.ToBase64String(AssignedBlob)));
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        IReadOnlyList<RecordedRequest> requests = handler.Requests;
        string resource = $"{Dps.IdScope}/registrations/{tpm.RegistrationId}";

        // §1.4: the first PUT carries EK and SRK and no Authorization.
        Assert.Null(requests[0].Authorization);
        using JsonDocument body = JsonDocument.Parse(requests[0].Body!);
        Assert.Equal(tpm.RegistrationId, body.RootElement.GetProperty("registrationId").GetString());
        Assert.Equal(tpm.EndorsementKey, body.RootElement.GetProperty("tpm").GetProperty("endorsementKey").GetBytesFromBase64());
        Assert.Equal(tpm.StorageRootKey, body.RootElement.GetProperty("tpm").GetProperty("storageRootKey").GetBytesFromBase64());

        // The same PUT again, signed with the key the challenge carried, and the poll with the same SAS.
        Assert.Equal(requests[0].Body, requests[1].Body);
        SasAssert.Valid(requests[1].Authorization, FakeTpmDevice.KeyFor(ChallengeBlob), resource, "registration");
        Assert.Equal(HttpMethod.Get, requests[2].Method);
        Assert.Equal(requests[1].Authorization, requests[2].Authorization);

        // §1.6: the key of the assigned result is activated before the result is returned.
        Assert.Equal([ChallengeBlob, AssignedBlob], tpm.ActivatedBlobs);

        // The hub client signs with the same attestation, now with the hub key.
        string hubToken = await attestation.CreateSasTokenAsync($"{result.AssignedHub}/devices/{result.DeviceId}", DateTimeOffset.UtcNow.AddHours(1), cancellationToken: Ct);
        SasAssert.Valid(hubToken, FakeTpmDevice.KeyFor(AssignedBlob), $"{result.AssignedHub}/devices/{result.DeviceId}", null);
    }

    [Fact]
    public async Task Register_WithTpmAndAGivenRegistrationId_UsesIt()
    {
        var tpm = new FakeTpmDevice();
        var attestation = new TpmAttestation(tpm, "my-tpm-device");
        var handler = new ScriptedHttpHandler()
            .ThenRespond(HttpStatusCode.Unauthorized, Dps.Challenge(Convert.ToBase64String(ChallengeBlob)))
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned("my-tpm-device", Convert.ToBase64String(AssignedBlob)));
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation);

        await client.RegisterAsync(cancellationToken: Ct);

        Assert.Contains("/registrations/my-tpm-device/register", handler.Requests[0].Uri.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("GetRegistrationId", tpm.Calls);
    }

    public static TheoryData<string, string, string, string> BadChallenges => new()
    {
        { "challenge blob not base64", Dps.Challenge("@@not-base64@@"), Dps.Assigned(), "authenticationKey is not valid base64" },
        { "challenge without keyName", """{"message":"m","authenticationKey":"AQID"}""", Dps.Assigned(), "has no keyName" },
        { "assigned without the TPM key", Dps.Challenge("AQID"), Dps.Assigned("device-01"), "lacks registrationState.tpm.authenticationKey" },
        { "assigned TPM key not base64", Dps.Challenge("AQID"), Dps.Assigned("device-01", "%%%"), "registrationState.tpm.authenticationKey is not valid base64" },
    };

    [Theory]
    [MemberData(nameof(BadChallenges))]
    public async Task Register_WithTpm_WhenTheServiceSendsABadBlob_ThrowsANonTransientError(string @case, string challenge, string assigned, string expected)
    {
        Assert.NotNull(@case);
        var handler = new ScriptedHttpHandler()
            .ThenRespond(HttpStatusCode.Unauthorized, challenge)
            .ThenRespond(HttpStatusCode.OK, assigned);
        using ProvisioningDeviceClient client = TestClients.Create(handler, new TpmAttestation(new FakeTpmDevice()));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_WithTpm_WhenTheTpmRejectsTheBlob_ThrowsANonTransientErrorWithTheTpmCause()
    {
        var handler = new ScriptedHttpHandler().ThenRespond(HttpStatusCode.Unauthorized, Dps.Challenge(Convert.ToBase64String([0xFF, 1, 2, 3])));
        using ProvisioningDeviceClient client = TestClients.Create(handler, new TpmAttestation(new FakeTpmDevice()));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("could not activate the challenge's authenticationKey", ex.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidDataException>(ex.InnerException);
        Assert.DoesNotContain("/wECAw==", ex.Message, StringComparison.Ordinal);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Register_WithTpm_WhenChallengedTwice_Stops()
    {
        var handler = new ScriptedHttpHandler()
            .ThenRespond(HttpStatusCode.Unauthorized, Dps.Challenge("AQID"))
            .ThenRespond(HttpStatusCode.Unauthorized, Dps.Challenge("AQID"));
        using ProvisioningDeviceClient client = TestClients.Create(handler, new TpmAttestation(new FakeTpmDevice()));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.False(ex.IsTransient);
        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task Register_WithSymmetricKey_WhenChallenged_TreatsTheAnswerAsAnError()
    {
        var handler = new ScriptedHttpHandler().ThenRespond(HttpStatusCode.Unauthorized, Dps.Challenge("AQID"));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation);

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.False(ex.IsTransient);
    }
}

using System.Net;
using System.Text;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests;

public sealed class MalformedResponseTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const string StateHead = """{"operationId":"op","status":"assigned","registrationState":{"registrationId":"device-01","assignedHub":"h","deviceId":"d",""";

    public static TheoryData<string, HttpStatusCode, string, string> Cases => new()
    {
        { "bad JSON", HttpStatusCode.Accepted, """{"operationId":""", "not valid JSON" },
        { "empty body", HttpStatusCode.Accepted, "", "the body is empty" },
        { "JSON null", HttpStatusCode.OK, "null", "JSON null" },
        { "not an object", HttpStatusCode.OK, "[1,2]", "not valid JSON of the expected shape (at $" },
        { "missing operationId", HttpStatusCode.Accepted, """{"status":"assigning"}""", "operationId is missing" },
        { "missing status", HttpStatusCode.Accepted, """{"operationId":"op"}""", "status is missing" },
        { "unknown status", HttpStatusCode.Accepted, """{"operationId":"op","status":"pondering"}""", "status 'pondering' is not a known" },
        { "operationId of the wrong type", HttpStatusCode.Accepted, """{"operationId":5,"status":"assigning"}""", "(at $.operationId" },
        { "errorCode of the wrong type", HttpStatusCode.OK, StateHead + "\"errorCode\":\"x\"}}", "(at $.registrationState.errorCode" },
        { "date that is no date", HttpStatusCode.OK, StateHead + "\"createdDateTimeUtc\":\"yesterday\"}}", "(at $.registrationState.createdDateTimeUtc" },
        { "assigned without registrationState", HttpStatusCode.OK, """{"operationId":"op","status":"assigned"}""", "registrationState is missing" },
        { "assigned without assignedHub", HttpStatusCode.OK, """{"operationId":"op","status":"assigned","registrationState":{"deviceId":"d"}}""", "assignedHub is missing" },
        { "assigned without deviceId", HttpStatusCode.OK, """{"operationId":"op","status":"assigned","registrationState":{"assignedHub":"h"}}""", "deviceId is missing" },
        { "unexpected success status", HttpStatusCode.NoContent, "", "unexpected status 204" },
        { "assignedHub that is an IP address", HttpStatusCode.OK, Assigned("127.0.0.1", "d"), "invalid registrationState.assignedHub (it is an IP address, not a host name); it must be a DNS host name" },
        { "assignedHub with a path", HttpStatusCode.OK, Assigned("hub.example.net/evil", "d"), "invalid registrationState.assignedHub (character 16 is '/')" },
        { "assignedHub with a port", HttpStatusCode.OK, Assigned("hub.example.net:8883", "d"), "invalid registrationState.assignedHub (character 16 is ':')" },
        { "assignedHub with a space", HttpStatusCode.OK, Assigned("hub example.net", "d"), "invalid registrationState.assignedHub (character 4 is U+0020)" },
        { "assignedHub with user info", HttpStatusCode.OK, Assigned("user@hub.example.net", "d"), "invalid registrationState.assignedHub (character 5 is '@')" },
        { "deviceId of 129 characters", HttpStatusCode.OK, Assigned("hub.example.net", new string('d', 129)), "invalid registrationState.deviceId (it has 129 characters); it must be 1 to 128 characters" },
        { "deviceId with a newline", HttpStatusCode.OK, Assigned("hub.example.net", "dev\\nice"), "invalid registrationState.deviceId (character 4 is U+000A)" },
        { "deviceId with a NUL", HttpStatusCode.OK, Assigned("hub.example.net", "dev\\u0000ice"), "invalid registrationState.deviceId (character 4 is U+0000)" },
        { "deviceId with a path and a wildcard", HttpStatusCode.OK, Assigned("hub.example.net", "../../x/#"), "invalid registrationState.deviceId (character 3 is '/')" },
        { "deviceId with an MQTT wildcard", HttpStatusCode.OK, Assigned("hub.example.net", "a+b"), "invalid registrationState.deviceId (character 2 is '+'); it must be 1 to 128 characters among ASCII letters" },
        { "deviceId with a non-ASCII letter", HttpStatusCode.OK, Assigned("hub.example.net", "d\u00e9vice"), "invalid registrationState.deviceId (character 2 is U+00E9)" },
        { "assignedHub with a hyphen-led label", HttpStatusCode.OK, Assigned("-hub.example.net", "d"), "invalid registrationState.assignedHub (a label starts or ends with a hyphen)" },
        { "assignedHub with an empty label", HttpStatusCode.OK, Assigned("hub..example.net", "d"), "invalid registrationState.assignedHub (it has an empty label)" },
    };

    [Theory]
    [InlineData("single label", "hub")]
    [InlineData("azure name", "contoso.azure-devices.net")]
    [InlineData("128-character device id", "hub.example.net")]
    [InlineData("every special character IoT Hub allows but + and #", "hub.example.net")]
    public async Task Register_WhenTheAssignmentIsWellFormed_ReturnsIt(string @case, string hub)
    {
        string deviceId = @case.StartsWith("128", StringComparison.Ordinal) ? new string('d', 128)
            : @case.StartsWith("every", StringComparison.Ordinal) ? "A-z:0.9%_*?!(),=@;$'" : "device-01";
        var handler = new ScriptedHttpHandler().ThenRespond(HttpStatusCode.OK, Assigned(hub, deviceId));
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: Ct);

        Assert.Equal(hub, result.AssignedHub);
        Assert.Equal(deviceId, result.DeviceId);
    }

    /// <summary>An assigned result naming <paramref name="hub"/> and <paramref name="deviceId"/> (JSON-escaped already).</summary>
    private static string Assigned(string hub, string deviceId) =>
        "{\"operationId\":\"op\",\"status\":\"assigned\",\"registrationState\":{\"registrationId\":\"device-01\"," +
        "\"assignedHub\":\"" + hub + "\",\"deviceId\":\"" + deviceId + "\"}}";

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Register_WhenTheResponseIsMalformed_ThrowsANonTransientErrorSayingWhat(string @case, HttpStatusCode status, string body, string expected)
    {
        Assert.NotNull(@case);
        var handler = new ScriptedHttpHandler().ThenRespond(status, body);
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation);

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Single(handler.Requests);
    }

    [Theory]
    [InlineData("with Content-Length", true)]
    [InlineData("streamed without Content-Length", false)]
    public async Task Register_WhenTheBodyIsOver96KB_ThrowsANonTransientError(string @case, bool withLength)
    {
        Assert.NotNull(@case);
        string huge = "{\"operationId\":\"op\",\"status\":\"assigning\",\"pad\":\"" + new string('x', 100 * 1024) + "\"}";
        var handler = new ScriptedHttpHandler().Then((_, _) =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.Accepted);
            response.Content = withLength
                ? new StringContent(huge, Encoding.UTF8, "application/json")
                : new StreamContent(new UnseekableStream(Encoding.UTF8.GetBytes(huge)));
            return Task.FromResult(response);
        });
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation);

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("96 KB limit", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_WhenTheBodyIsJustUnder96KB_ReadsIt()
    {
        string padded = "{\"operationId\":\"op\",\"status\":\"assigning\",\"pad\":\"";
        padded += new string('x', (96 * 1024) - padded.Length - 2) + "\"}";
        Assert.Equal(96 * 1024, padded.Length);
        var handler = new ScriptedHttpHandler()
            .Then((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.Accepted) { Content = new StreamContent(new UnseekableStream(Encoding.UTF8.GetBytes(padded))), Headers = { { "Retry-After", "0" } } }))
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned());
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
    }

    /// <summary>A stream that hides its length, as a chunked response does.</summary>
    private sealed class UnseekableStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;

        public override long Length => throw new NotSupportedException();
    }
}

using System.Net;

using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Encoding;
using Microsoft.Azure.Amqp.Framing;

using Provisioning.Device.Tests.Fakes;
using Provisioning.Device.Transport.Amqp;

using Provisioning.Device.Transport;

namespace Provisioning.Device.Tests.Amqp;

/// <summary>The AMQP transport's wire pieces without a network (dps-protocol.md §6): SASL TPM init, Retry-After, rejections, endpoints.</summary>
public sealed class AmqpWireTests
{
    [Fact]
    public void TpmInit_IsZeroScopeZeroIdZeroEk()
    {
        byte[] init = SaslTpmClientHandler.BuildInit("0ne00000001", "dev-01", [0x01, 0x3A, 0x00, 0x01]);

        Assert.Equal("00" + "306E653030303030303031" + "00" + "6465762D3031" + "00" + "013A0001", Convert.ToHexString(init));
    }

    [Theory]
    [InlineData("Retry-After", 3, 3)]
    [InlineData("retry-after", "7", 7)]
    [InlineData("RETRY-AFTER", 0L, 0)]
    public void RetryAfter_IsReadInEitherSpellingAsIntegerOrDigits(string key, object value, int seconds)
    {
        var map = new PropertiesMap { [key] = value };

        Assert.Equal(TimeSpan.FromSeconds(seconds), AmqpErrors.ReadRetryAfter(map));
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-1")]
    [InlineData(-1)]
    [InlineData(86_401)]
    [InlineData(2.5)]
    public void RetryAfter_ThatIsNotWholeSecondsInRange_IsIgnored(object value)
    {
        var map = new PropertiesMap { ["Retry-After"] = value };

        Assert.Null(AmqpErrors.ReadRetryAfter(map));
    }

    [Fact]
    public void Rejection_WithA429ErrorJson_IsTransientWithItsCodeTrackingIdAndRetryAfter()
    {
        var rejected = new Rejected
        {
            Error = new Error
            {
                Condition = AmqpErrorCode.ResourceLimitExceeded,
                Description = """{"errorCode":429001,"trackingId":"t-1","message":"slow down"}""",
                Info = new Fields { { "Retry-After", 5 } },
            },
        };

        ProvisioningException ex = AmqpErrors.FromRejection(rejected, "the registration");

        Assert.True(ex.IsTransient);
        Assert.Equal(HttpStatusCode.TooManyRequests, ex.StatusCode);
        Assert.Equal(429001, ex.ErrorCode);
        Assert.Equal("t-1", ex.TrackingId);
        Assert.Equal(TimeSpan.FromSeconds(5), ex.RetryAfter);
    }

    [Fact]
    public void Rejection_WithA401ErrorJson_IsNotTransient()
    {
        var rejected = new Rejected { Error = new Error { Condition = AmqpErrorCode.UnauthorizedAccess, Description = """{"errorCode":401002,"message":"no"}""" } };

        ProvisioningException ex = AmqpErrors.FromRejection(rejected, "the registration");

        Assert.False(ex.IsTransient);
        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("""{"errorCode":42}""")]
    [InlineData(null)]
    public void Rejection_WithoutADpsErrorCode_IsANonTransientErrorNamingTheCondition(string? description)
    {
        var rejected = new Rejected { Error = new Error { Condition = AmqpErrorCode.NotAllowed, Description = description } };

        ProvisioningException ex = AmqpErrors.FromRejection(rejected, "the status poll");

        Assert.False(ex.IsTransient);
        Assert.Contains("amqp:not-allowed", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Auth", false, HttpStatusCode.Unauthorized)]
    [InlineData("SysPerm", false, HttpStatusCode.Unauthorized)]
    [InlineData("SysTemp", true, HttpStatusCode.ServiceUnavailable)]
    [InlineData("Sys", true, HttpStatusCode.ServiceUnavailable)]
    public void SaslOutcome_IsTransientOnlyForTemporaryCodes(string outcome, bool transient, HttpStatusCode status)
    {
        ProvisioningException ex = AmqpErrors.FromFailure(new UnauthorizedAccessException(outcome), "the registration");

        Assert.Equal(transient, ex.IsTransient);
        Assert.Equal(status, ex.StatusCode);
    }

    [Fact]
    public void Failure_WrappingAProvisioningException_IsThatException()
    {
        var inner = new ProvisioningException("the TPM refused the blob", isTransient: false);

        Assert.Same(inner, AmqpErrors.FromFailure(new InvalidOperationException("wrapped", inner), "the registration"));
    }

    [Theory]
    [InlineData("dps.example", ProvisioningTransport.Amqp, "dps.example", 5671, null)]
    [InlineData("dps.example:1234", ProvisioningTransport.Amqp, "dps.example", 1234, null)]
    [InlineData("amqps://dps.example", ProvisioningTransport.Amqp, "dps.example", 5671, null)]
    [InlineData("dps.example", ProvisioningTransport.AmqpWebSockets, "dps.example", 443, "wss://dps.example/$iothub/websocket")]
    [InlineData("wss://dps.example:8443", ProvisioningTransport.AmqpWebSockets, "dps.example", 8443, "wss://dps.example:8443/$iothub/websocket")]
    public void Endpoint_TakesTheDefaultPortOfItsTransport(string text, ProvisioningTransport transport, string host, int port, string? webSocket)
    {
        using var attestation = new SymmetricKeyAttestation("dev", Convert.ToBase64String(new byte[32]));

        SocketEndpoint endpoint = SocketEndpoint.Create(text, attestation, new ProvisioningClientOptions { Transport = transport });

        Assert.Equal(host, endpoint.Host);
        Assert.Equal(port, endpoint.Port);
        Assert.Equal(webSocket, endpoint.WebSocketUri?.ToString());
    }

    [Theory]
    [InlineData("https://dps.example", ProvisioningTransport.Amqp)]
    [InlineData("amqps://dps.example/path", ProvisioningTransport.Amqp)]
    [InlineData("amqps://dps.example", ProvisioningTransport.AmqpWebSockets)]
    public void Endpoint_OfAnotherShape_IsACallerMistake(string text, ProvisioningTransport transport)
    {
        using var attestation = new SymmetricKeyAttestation("dev", Convert.ToBase64String(new byte[32]));

        Assert.Throws<ArgumentException>(() => SocketEndpoint.Create(text, attestation, new ProvisioningClientOptions { Transport = transport }));
    }

    [Fact]
    public void Client_WithTpmOverAmqp_IsAccepted()
    {
        using var attestation = new TpmAttestation(new FakeTpmDevice());

        using var client = new ProvisioningDeviceClient("dps.example", "0ne00000001", attestation, new ProvisioningClientOptions { Transport = ProvisioningTransport.Amqp });

        Assert.Same(attestation, client.Attestation);
    }

    private const string AssigningAnswer = """{"operationId":"4.d0a6.op","status":"assigning"}""";

    [Fact]
    public void Answer_InOneDataSection_IsReadWhereItLiesAndZeroedAfter()
    {
        byte[] body = System.Text.Encoding.UTF8.GetBytes(AssigningAnswer);
        using AmqpMessage answer = AmqpMessage.Create(new Data { Value = new ArraySegment<byte>(body) });

        DpsReply reply = AmqpProvisioningTransport.Interpret(answer, "the registration");

        Assert.Equal("4.d0a6.op", reply.Operation?.OperationId);
        Assert.Equal(ProvisioningRegistrationStatus.Assigning, reply.Operation?.Status);
        Assert.All(body, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Answer_SplitOverDataSections_IsJoinedInOrderAndEverySectionZeroed()
    {
        byte[] all = System.Text.Encoding.UTF8.GetBytes(AssigningAnswer);
        byte[] first = all[..10];
        byte[] second = all[10..25];
        byte[] third = all[25..];
        using AmqpMessage answer = AmqpMessage.Create(
        [
            new Data { Value = new ArraySegment<byte>(first) },
            new Data { Value = new ArraySegment<byte>(second) },
            new Data { Value = new ArraySegment<byte>(third) },
        ]);

        DpsReply reply = AmqpProvisioningTransport.Interpret(answer, "the registration");

        Assert.Equal("4.d0a6.op", reply.Operation?.OperationId);
        Assert.All(first.Concat(second).Concat(third), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Answer_OverTheBodyLimitAcrossSections_IsRefusedAsMalformed()
    {
        byte[] half = new byte[(DpsResponseReader.MaxBodyBytes / 2) + 1];
        using AmqpMessage answer = AmqpMessage.Create(
        [
            new Data { Value = new ArraySegment<byte>(half) },
            new Data { Value = new ArraySegment<byte>(half) },
        ]);

        ProvisioningException ex = Assert.Throws<ProvisioningException>(() => AmqpProvisioningTransport.Interpret(answer, "the registration"));

        Assert.False(ex.IsTransient);
        Assert.Contains("KB limit", ex.Message, StringComparison.Ordinal);
    }
}

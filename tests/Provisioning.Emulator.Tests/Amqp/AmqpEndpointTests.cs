using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Framing;
using Microsoft.Azure.Amqp.Sasl;

using Provisioning.Emulator.Faults;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Amqp;

/// <summary>
/// The DPS AMQP endpoint as Microsoft's C# transport speaks to it (dps-protocol.md §6), and its answers to bad input: a
/// clear AMQP error on the offending connection, link or delivery, and an emulator that keeps serving.
/// </summary>
public sealed class AmqpEndpointTests
{
    [Fact]
    public async Task Register_AsTheCSharpSdkSpeaksIt_IsAssignedOverRegisterAndStatusMessages()
    {
        await using var dps = await TestDps.StartAsync(o => o.RetryAfter = TimeSpan.FromSeconds(3));
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("amqp-cs-1", cancellationToken: TestContext.Current.CancellationToken);
        var connection = await AmqpTestDevice.ConnectAsync(dps, AmqpTestDevice.Plain(dps, "amqp-cs-1", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "amqp-cs-1")));
        try
        {
            var (receiver, sender) = await AmqpTestDevice.OpenLinksAsync(connection, $"{dps.IdScope}/registrations/amqp-cs-1");

            Assert.IsType<Accepted>(await AmqpTestDevice.SendAsync(sender, AmqpTestDevice.Register()));
            var (json, answer) = await AmqpTestDevice.ReceiveAsync(receiver);
            using var accepted = JsonDocument.Parse(json);
            Assert.Equal("assigning", accepted.RootElement.GetProperty("status").GetString());
            Assert.Equal(3, answer.ApplicationProperties.Map["Retry-After"]);
            Assert.Equal(3, answer.ApplicationProperties.Map["retry-after"]);
            var operationId = accepted.RootElement.GetProperty("operationId").GetString()!;

            Assert.IsType<Accepted>(await AmqpTestDevice.SendAsync(sender, AmqpTestDevice.Status(operationId)));
            var (final, _) = await AmqpTestDevice.ReceiveAsync(receiver);
            using var assigned = JsonDocument.Parse(final);
            Assert.Equal("assigned", assigned.RootElement.GetProperty("status").GetString());
            Assert.Equal("amqp-cs-1", assigned.RootElement.GetProperty("registrationState").GetProperty("deviceId").GetString());
        }
        finally
        {
            await connection.CloseAsync(TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Register_X509AsTheCSharpSdkSpeaksIt_IsAssignedByTheTlsClientCertificateWithoutSasl()
    {
        await using var dps = await TestDps.StartAsync();
        using var leaf = TestCertificates.SelfSigned("amqp-cs-x509");
        await dps.Enrollments.AddX509Async("amqp-cs-x509", X509CertificateLoader.LoadCertificate(leaf.RawData), cancellationToken: TestContext.Current.CancellationToken);
        var connection = await AmqpTestDevice.ConnectAsync(dps, sasl: null, clientCertificate: leaf);
        try
        {
            var (receiver, sender) = await AmqpTestDevice.OpenLinksAsync(connection, $"{dps.IdScope}/registrations/amqp-cs-x509");

            Assert.IsType<Accepted>(await AmqpTestDevice.SendAsync(sender, AmqpTestDevice.Register()));
            var (json, _) = await AmqpTestDevice.ReceiveAsync(receiver);
            using var accepted = JsonDocument.Parse(json);
            var operationId = accepted.RootElement.GetProperty("operationId").GetString()!;
            Assert.IsType<Accepted>(await AmqpTestDevice.SendAsync(sender, AmqpTestDevice.Status(operationId)));
            var (final, _) = await AmqpTestDevice.ReceiveAsync(receiver);

            using var assigned = JsonDocument.Parse(final);
            Assert.Equal("assigned", assigned.RootElement.GetProperty("status").GetString());
            Assert.Equal(leaf.Thumbprint, assigned.RootElement.GetProperty("registrationState").GetProperty("x509").GetProperty("certificateInfo").GetProperty("sha1Thumbprint").GetString(), StringComparer.OrdinalIgnoreCase);
        }
        finally
        {
            await connection.CloseAsync(TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Status_ForAnUnknownOperation_IsRejectedWithTheDpsErrorJsonAndTheConnectionStaysUsable()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("amqp-cs-2", cancellationToken: TestContext.Current.CancellationToken);
        var connection = await AmqpTestDevice.ConnectAsync(dps, AmqpTestDevice.Plain(dps, "amqp-cs-2", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "amqp-cs-2")));
        try
        {
            var (receiver, sender) = await AmqpTestDevice.OpenLinksAsync(connection, $"{dps.IdScope}/registrations/amqp-cs-2");

            var outcome = Assert.IsType<Rejected>(await AmqpTestDevice.SendAsync(sender, AmqpTestDevice.Status("4.no-such-operation")));
            using var error = JsonDocument.Parse(outcome.Error.Description);
            Assert.Equal(404204, error.RootElement.GetProperty("errorCode").GetInt32());

            Assert.IsType<Accepted>(await AmqpTestDevice.SendAsync(sender, AmqpTestDevice.Register("""{"payload":{"a":1}}""")));
            var (json, _) = await AmqpTestDevice.ReceiveAsync(receiver);
            Assert.Contains("assigning", json, StringComparison.Ordinal);
        }
        finally
        {
            await connection.CloseAsync(TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Register_WithAnInjected503_IsRejectedWithRetryAfterInTheErrorInfo()
    {
        await using var dps = await TestDps.StartAsync(o => o.Faults.Add(new FaultRule
        {
            Endpoint = DpsEndpoint.Register, Transport = DpsTransport.Amqp, Kind = FaultKind.ServiceUnavailable, RetryAfter = TimeSpan.FromSeconds(7),
        }));
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("amqp-503", cancellationToken: TestContext.Current.CancellationToken);
        var connection = await AmqpTestDevice.ConnectAsync(dps, AmqpTestDevice.Plain(dps, "amqp-503", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "amqp-503")));
        try
        {
            var (_, sender) = await AmqpTestDevice.OpenLinksAsync(connection, $"{dps.IdScope}/registrations/amqp-503");

            var outcome = Assert.IsType<Rejected>(await AmqpTestDevice.SendAsync(sender, AmqpTestDevice.Register()));

            Assert.Equal(7, outcome.Error.Info["Retry-After"]);
            using var error = JsonDocument.Parse(outcome.Error.Description);
            Assert.Equal(503001, error.RootElement.GetProperty("errorCode").GetInt32());
        }
        finally
        {
            await connection.CloseAsync(TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public async Task Sasl_WithAWrongSas_EndsWithTheOutcomeAuth()
    {
        await using var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddSymmetricKeyAsync("amqp-bad-sas", cancellationToken: TestContext.Current.CancellationToken);
        var wrong = TestSas.ForDevice(Convert.ToBase64String(new byte[32]), dps.IdScope, "amqp-bad-sas");

        var ex = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => AmqpTestDevice.ConnectAsync(dps, AmqpTestDevice.Plain(dps, "amqp-bad-sas", wrong)));

        Assert.Equal("Auth", ex.Message);
        await AssertStillServesAsync(dps);
    }

    [Theory]
    [InlineData("no TPM init framing")]
    [InlineData("\0scope-only")]
    public async Task Sasl_WithAMalformedTpmInit_EndsWithTheOutcomeAuth(string init)
    {
        await using var dps = await TestDps.StartAsync();

        var ex = await Assert.ThrowsAsync<UnauthorizedAccessException>(() => AmqpTestDevice.ConnectAsync(dps, new RawInitHandler("TPM", System.Text.Encoding.UTF8.GetBytes(init))));

        Assert.Equal("Auth", ex.Message);
        await AssertStillServesAsync(dps);
    }

    [Fact]
    public async Task Sasl_WithAMechanismTheServiceDoesNotOffer_FailsOnTheDeviceSide()
    {
        await using var dps = await TestDps.StartAsync();

        var ex = await Assert.ThrowsAsync<AmqpException>(() => AmqpTestDevice.ConnectAsync(dps, new SaslAnonymousHandler()));

        Assert.Equal(AmqpErrorCode.NotFound, ex.Error.Condition);
        await AssertStillServesAsync(dps);
    }

    [Theory]
    [InlineData("wrongscope/registrations/amqp-link", "amqp:unauthorized-access")]
    [InlineData("{scope}/registrations/someone-else", "amqp:unauthorized-access")]
    [InlineData("{scope}/enrollments/amqp-link", "amqp:not-found")]
    [InlineData("", "amqp:not-found")]
    public async Task Link_ToAnotherAddress_IsRefusedWithAClearCondition(string address, string condition)
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("amqp-link", cancellationToken: TestContext.Current.CancellationToken);
        var connection = await AmqpTestDevice.ConnectAsync(dps, AmqpTestDevice.Plain(dps, "amqp-link", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "amqp-link")));
        try
        {
            var ex = await Assert.ThrowsAsync<AmqpException>(() => AmqpTestDevice.OpenLinksAsync(connection, address.Replace("{scope}", dps.IdScope, StringComparison.Ordinal)));

            Assert.Equal(condition, ex.Error.Condition.Value);
        }
        finally
        {
            connection.Abort();
        }

        await AssertStillServesAsync(dps);
    }

    [Fact]
    public async Task Header_ThatIsNotAmqp_IsAnsweredWithTheSaslHeaderAndClosed()
    {
        await using var dps = await TestDps.StartAsync();
        await using (var stream = await AmqpTestDevice.OpenRawAsync(dps))
        {
            await stream.WriteAsync("GET / HTTP/1.1\r\n\r\n"u8.ToArray(), TestContext.Current.CancellationToken);

            var reply = new byte[8];
            await stream.ReadExactlyAsync(reply, TestContext.Current.CancellationToken);
            Assert.Equal("AMQP"u8.ToArray().Concat(new byte[] { 3, 1, 0, 0 }), reply);
            Assert.Equal(0, await stream.ReadAsync(new byte[1], TestContext.Current.CancellationToken));
        }

        await AssertStillServesAsync(dps);
    }

    [Fact]
    public async Task SaslFrame_OverTheFrameSizeLimit_ClosesTheConnection()
    {
        await using var dps = await TestDps.StartAsync();
        await using (var stream = await AmqpTestDevice.OpenRawAsync(dps))
        {
            var ct = TestContext.Current.CancellationToken;
            await stream.WriteAsync(new byte[] { (byte)'A', (byte)'M', (byte)'Q', (byte)'P', 3, 1, 0, 0 }, ct);
            var header = new byte[8];
            await stream.ReadExactlyAsync(header, ct);

            // A frame announcing 2 GB, then garbage: the server must give up on it, not allocate or wait.
            await stream.WriteAsync(new byte[] { 0x7F, 0xFF, 0xFF, 0xFF, 2, 1, 0, 0, 0xDE, 0xAD, 0xBE, 0xEF }, ct);

            var buffer = new byte[4096];
            while (await stream.ReadAsync(buffer, ct) > 0)
            {
                // The mechanisms frame, maybe an outcome; then the end of the stream.
            }
        }

        await AssertStillServesAsync(dps);
    }

    [Fact]
    public async Task Frames_OfGarbageAfterTheAmqpHeader_CloseTheConnection()
    {
        await using var dps = await TestDps.StartAsync();
        await using (var stream = await AmqpTestDevice.OpenRawAsync(dps))
        {
            var ct = TestContext.Current.CancellationToken;
            await stream.WriteAsync(new byte[] { (byte)'A', (byte)'M', (byte)'Q', (byte)'P', 0, 1, 0, 0 }, ct);
            await stream.WriteAsync(new byte[] { 0, 0, 0, 16, 2, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }, ct);

            var buffer = new byte[4096];
            while (await stream.ReadAsync(buffer, ct) > 0)
            {
                // The header, open and close frames; then the end of the stream.
            }
        }

        await AssertStillServesAsync(dps);
    }

    [Fact]
    public async Task Message_WithAnUnknownOperationType_IsRejectedAsMalformed()
    {
        await using var dps = await TestDps.StartAsync();
        var keys = await dps.Enrollments.AddSymmetricKeyAsync("amqp-op", cancellationToken: TestContext.Current.CancellationToken);
        var connection = await AmqpTestDevice.ConnectAsync(dps, AmqpTestDevice.Plain(dps, "amqp-op", TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, "amqp-op")));
        try
        {
            var (_, sender) = await AmqpTestDevice.OpenLinksAsync(connection, $"{dps.IdScope}/registrations/amqp-op");
            var message = AmqpTestDevice.Register();
            message.ApplicationProperties.Map["iotdps-operation-type"] = "iotdps-delete-everything";

            var outcome = Assert.IsType<Rejected>(await AmqpTestDevice.SendAsync(sender, message));

            using var error = JsonDocument.Parse(outcome.Error.Description);
            Assert.Equal(400001, error.RootElement.GetProperty("errorCode").GetInt32());
        }
        finally
        {
            await connection.CloseAsync(TestContext.Current.CancellationToken);
        }
    }

    /// <summary>The emulator still registers a well-behaved device after whatever the test sent.</summary>
    private static async Task AssertStillServesAsync(DpsEmulator dps)
    {
        var id = "amqp-healthy-" + Guid.NewGuid().ToString("N")[..8];
        var keys = await dps.Enrollments.AddSymmetricKeyAsync(id, cancellationToken: TestContext.Current.CancellationToken);
        var connection = await AmqpTestDevice.ConnectAsync(dps, AmqpTestDevice.Plain(dps, id, TestSas.ForDevice(keys.PrimaryKey, dps.IdScope, id)));
        try
        {
            var (receiver, sender) = await AmqpTestDevice.OpenLinksAsync(connection, $"{dps.IdScope}/registrations/{id}");
            Assert.IsType<Accepted>(await AmqpTestDevice.SendAsync(sender, AmqpTestDevice.Register()));
            var (json, _) = await AmqpTestDevice.ReceiveAsync(receiver);
            Assert.Contains("assigning", json, StringComparison.Ordinal);
        }
        finally
        {
            await connection.CloseAsync(TestContext.Current.CancellationToken);
        }
    }

    /// <summary>A client mechanism that sends whatever init bytes the test gives it.</summary>
    private sealed class RawInitHandler : SaslHandler
    {
        private readonly byte[] _init;

        public RawInitHandler(string mechanism, byte[] init)
        {
            Mechanism = mechanism;
            _init = init;
        }

        public override SaslHandler Clone() => new RawInitHandler(Mechanism, _init);

        public override void OnChallenge(SaslChallenge challenge) => Negotiator.WriteFrame(new SaslResponse { Response = new ArraySegment<byte>([0]) }, true);

        public override void OnResponse(SaslResponse response)
        {
        }

        protected override void OnStart(SaslInit init, bool isClient)
        {
            init.InitialResponse = new ArraySegment<byte>(_init);
            Negotiator.WriteFrame(init, true);
        }
    }
}

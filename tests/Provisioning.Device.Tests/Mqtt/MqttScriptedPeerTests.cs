using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.ExceptionServices;
using System.Text;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>
/// The DPS MQTT connection against a peer that speaks raw MQTT 3.1.1 bytes over TLS, so the packets it answers with can be
/// wrong: acknowledgements are matched by type and packet identifier, a QoS 2 answer is refused, and a registration that ends
/// well closes its connection without a single exception in the transport or MQTTnet. Alone in its collection: the first-chance
/// handler sees the whole process.
/// </summary>
[Collection(nameof(MqttScriptedPeerTests))]
public sealed class MqttScriptedPeerTests : IClassFixture<MqttPki>
{

    private readonly MqttPki _pki;

    public MqttScriptedPeerTests(MqttPki pki)
    {
        _pki = pki;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Register_WhenDpsAnswersWell_DisconnectsWithoutAnExceptionInTheTransportOrMqttnet()
    {
        var thrown = new ConcurrentQueue<string>();
        void Record(object? sender, FirstChanceExceptionEventArgs e)
        {
            string thrower = ThrowingFrame(Environment.StackTrace);
            if (thrower.StartsWith("Provisioning.Device.", StringComparison.Ordinal) || thrower.StartsWith("MQTTnet.", StringComparison.Ordinal))
            {
                thrown.Enqueue($"{e.Exception.GetType().Name} in {thrower}");
            }
        }

        await using var peer = ScriptedPeer.Start(_pki, Answer);
        using SymmetricKeyAttestation attestation = Fakes.TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Fakes.Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt));
        AppDomain.CurrentDomain.FirstChanceException += Record;
        DeviceRegistrationResult result;
        try
        {
            result = await client.RegisterAsync(Ct);
        }
        finally
        {
            AppDomain.CurrentDomain.FirstChanceException -= Record;
        }

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Empty(thrown);
        // The peer saw the whole exchange, DISCONNECT last, and every answer acknowledged.
        Assert.Equal([0x10, 0x82, 0x32, 0x40, 0xE0], await peer.ReceivedTypesAsync());
    }

    [Fact]
    public async Task Register_WhenTheConnectionIsLostWhileWaiting_RetriesOnANewConnectionAndIsAssigned()
    {
        // The first connection closes as soon as the register PUBLISH arrives; the second answers.
        await using var peer = ScriptedPeer.Start(_pki, (connection, packet) => connection == 0 && packet.Type == 0x32 ? null : Answer(packet), connections: 2);
        using SymmetricKeyAttestation attestation = Fakes.TestClients.SymmetricKey();
        ProvisioningClientOptions options = _pki.Options(ProvisioningTransport.Mqtt);
        options.RetryPolicy = new ProvisioningRetryPolicy { InitialDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(1) };
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Fakes.Dps.IdScope, attestation, options);

        DeviceRegistrationResult result = await client.RegisterAsync(Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        // CONNECT, SUBSCRIBE, PUBLISH on the first; the whole exchange on the second.
        Assert.Equal([0x10, 0x82, 0x32, 0x10, 0x82, 0x32, 0x40, 0xE0], await peer.ReceivedTypesAsync());
    }

    [Fact]
    public async Task Register_WhenThePubackIsForAnotherPacket_FailsAsAProtocolViolation()
    {
        await using var peer = ScriptedPeer.Start(_pki, packet => packet.Type == 0x32
            ? [0x40, 0x02, 0x7F, 0x7F] // PUBACK for an identifier the client never used
            : Answer(packet));
        using SymmetricKeyAttestation attestation = Fakes.TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Fakes.Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("broke the MQTT protocol", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_WhenTheAnswerComesAtQos2_FailsAsAProtocolViolation()
    {
        await using var peer = ScriptedPeer.Start(_pki, packet => packet.Type == 0x32
            ? [.. PubAck(packet), .. Publish(0x34, ResponseTopicFor(packet), Fakes.Dps.Assigned())]
            : Answer(packet));
        using SymmetricKeyAttestation attestation = Fakes.TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Fakes.Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("QoS 2", ex.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_WhenTheSubscriptionIsRefused_FailsNamingTheFilter()
    {
        await using var peer = ScriptedPeer.Start(_pki, packet => packet.Type == 0x82
            ? [0x90, 0x03, packet.Body[0], packet.Body[1], 0x80]
            : Answer(packet));
        using SymmetricKeyAttestation attestation = Fakes.TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient($"localhost:{peer.Port}", Fakes.Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("$dps/registrations/res/#", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>DPS's answers: CONNACK 0, SUBACK granting QoS 1, and for the register PUBLISH its PUBACK then the assigned answer.</summary>
    private static byte[] Answer(MqttPacket packet) => packet.Type switch
    {
        0x10 => [0x20, 0x02, 0x00, 0x00],
        0x82 => [0x90, 0x03, packet.Body[0], packet.Body[1], 0x01],
        0x32 => [.. PubAck(packet), .. Publish(0x32, ResponseTopicFor(packet), Fakes.Dps.Assigned())],
        _ => [],
    };

    /// <summary>The assigned answer's topic, for the request id of <paramref name="publish"/>'s topic.</summary>
    private static string ResponseTopicFor(MqttPacket publish)
    {
        string topic = Encoding.UTF8.GetString(publish.Body, 2, BinaryPrimitives.ReadUInt16BigEndian(publish.Body));
        string requestId = topic[(topic.IndexOf("$rid=", StringComparison.Ordinal) + 5)..].Split('&')[0];
        return "$dps/registrations/res/200/?$rid=" + requestId;
    }

    private static byte[] PubAck(MqttPacket publish)
    {
        int topicLength = BinaryPrimitives.ReadUInt16BigEndian(publish.Body);
        return [0x40, 0x02, publish.Body[2 + topicLength], publish.Body[3 + topicLength]];
    }

    /// <summary>A PUBLISH with packet identifier 1 (QoS 1 or 2 in <paramref name="first"/>).</summary>
    private static byte[] Publish(byte first, string topic, string body)
    {
        byte[] payload = Encoding.UTF8.GetBytes(body);
        int remaining = 2 + topic.Length + 2 + payload.Length;
        var packet = new List<byte> { first };
        do
        {
            byte digit = (byte)(remaining & 0x7F);
            remaining >>= 7;
            packet.Add(remaining > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (remaining > 0);

        packet.Add((byte)(topic.Length >> 8));
        packet.Add((byte)topic.Length);
        packet.AddRange(Encoding.ASCII.GetBytes(topic));
        packet.Add(0x00);
        packet.Add(0x01);
        packet.AddRange(payload);
        return [.. packet];
    }

    private static string ThrowingFrame(string stackTrace)
    {
        bool pastHandler = false;
        foreach (string raw in stackTrace.Split('\n'))
        {
            string line = raw.Trim();
            if (!line.StartsWith("at ", StringComparison.Ordinal))
            {
                continue;
            }

            string frame = line[3..];
            if (frame.Contains(nameof(MqttScriptedPeerTests), StringComparison.Ordinal))
            {
                pastHandler = true;
                continue;
            }

            if (pastHandler && !frame.StartsWith("System.", StringComparison.Ordinal))
            {
                return frame;
            }
        }

        return string.Empty;
    }

    internal sealed record MqttPacket(byte Type, byte[] Body);

    /// <summary>One TLS connection at a time on loopback; each packet received (at most 64 KB) is answered with the script's bytes.
    /// Ends at DISCONNECT, at end of stream, or when disposed.</summary>
    private sealed class ScriptedPeer : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly CancellationTokenSource _stop;
        private readonly Task<List<byte>> _served;

        private ScriptedPeer(TcpListener listener, CancellationTokenSource stop, Task<List<byte>> served)
        {
            _listener = listener;
            _stop = stop;
            _served = served;
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static ScriptedPeer Start(MqttPki pki, Func<MqttPacket, byte[]> script) => Start(pki, (_, packet) => script(packet), connections: 1);

        /// <summary>Serves <paramref name="connections"/> connections in turn; the script also gets the connection's index, and its
        /// <see langword="null"/> answer closes that connection at once.</summary>
        public static ScriptedPeer Start(MqttPki pki, Func<int, MqttPacket, byte[]?> script, int connections)
        {
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            return new ScriptedPeer(listener, stop, Task.Run(() => ServeAsync(listener, pki, script, connections, stop.Token), Ct));
        }

        /// <summary>The first byte of every packet the client sent, once the client has hung up.</summary>
        public async Task<byte[]> ReceivedTypesAsync() => [.. await _served.WaitAsync(TimeSpan.FromSeconds(30), Ct)];

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            Exception? ended = await Record.ExceptionAsync(() => _served);
            Assert.True(ended is null or OperationCanceledException or IOException or ObjectDisposedException or SocketException, ended?.ToString());
            _stop.Dispose();
        }

        private static async Task<List<byte>> ServeAsync(TcpListener listener, MqttPki pki, Func<int, MqttPacket, byte[]?> script, int connections, CancellationToken stop)
        {
            var received = new List<byte>();
            var context = SslStreamCertificateContext.Create(pki.Value.Server, additionalCertificates: null, offline: true);
            for (int index = 0; index < connections; index++)
            {
                using TcpClient client = await listener.AcceptTcpClientAsync(stop);
                await using var tls = new SslStream(client.GetStream());
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificateContext = context }, stop);
                byte[] one = new byte[1];
                while (await tls.ReadAsync(one, stop) == 1)
                {
                    byte type = one[0];
                    int length = 0;
                    for (int shift = 0; ; shift += 7)
                    {
                        Assert.True(shift <= 21, "a Remaining Length over four bytes");
                        await tls.ReadExactlyAsync(one, stop);
                        length |= (one[0] & 0x7F) << shift;
                        if ((one[0] & 0x80) == 0)
                        {
                            break;
                        }
                    }

                    Assert.InRange(length, 0, 64 * 1024);
                    byte[] body = new byte[length];
                    await tls.ReadExactlyAsync(body, stop);
                    received.Add(type);
                    if (type == 0xE0)
                    {
                        break;
                    }

                    byte[]? answer = script(index, new MqttPacket(type, body));
                    if (answer is null)
                    {
                        break;
                    }

                    if (answer.Length > 0)
                    {
                        await tls.WriteAsync(answer, stop);
                        await tls.FlushAsync(stop);
                    }
                }
            }

            return received;
        }
    }
}

[CollectionDefinition(nameof(MqttScriptedPeerTests), DisableParallelization = true)]
public sealed class MqttScriptedPeerTestsAlone;

using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using System.Security.Cryptography.X509Certificates;
using System.Text;

using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Channel;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;

namespace Provisioning.Device.Benchmarks;

/// <summary>
/// MQTTnet's own allocation for one DPS registration's MQTT exchange, with no socket, TLS, JSON or SAS: the packets the client
/// sends (CONNECT, SUBSCRIBE, two QoS 1 PUBLISHes, two PUBACKs, DISCONNECT) and receives (CONNACK, SUBACK, two PUBACKs, two QoS 1
/// response PUBLISHes), over an in-memory channel that answers as DPS does. Measured two ways: through <see cref="MqttClient"/>
/// with the options the DPS transport used with it (the hub client still uses it), and through its channel adapter and packet
/// formatter alone, driven in order (the codec's share, which the DPS transport pays now: no client receive loop, dispatcher,
/// queues or events).
/// </summary>
internal static class MqttLibraryFloor
{
    private const string ResponseTopic1 = "$dps/registrations/res/202/?$rid=1&retry-after=0";
    private const string ResponseTopic2 = "$dps/registrations/res/200/?$rid=2";

    private static readonly byte[] Assigning = Encoding.UTF8.GetBytes("""{"operationId":"4.d0a6.op","status":"assigning"}""");
    private static readonly byte[] Assigned = Encoding.UTF8.GetBytes(
        """{"operationId":"4.d0a6.op","status":"assigned","registrationState":{"registrationId":"bench-1","createdDateTimeUtc":"2026-12-07T00:00:00Z","assignedHub":"hub-1.localhost","deviceId":"bench-1","status":"assigned","substatus":"initialAssignment","lastUpdatedDateTimeUtc":"2026-12-07T00:00:00Z","etag":"IjAwMDAi"}}""");

    private static readonly MqttClientSubscribeOptions Subscription =
        new MqttClientSubscribeOptionsBuilder().WithTopicFilter("$dps/registrations/res/#", MqttQualityOfServiceLevel.AtLeastOnce).Build();

    private static readonly MqttClientDisconnectOptions Normal = new() { Reason = MqttClientDisconnectOptionsReason.NormalDisconnection };

    private static readonly MqttClientTcpOptions Placeholder = new();

    /// <summary>One registration's exchange through <see cref="MqttClient"/>.</summary>
    public static async Task ThroughClientAsync(int device)
    {
        var channel = new ScriptedDpsChannel();
        using IMqttClient client = new MqttClientFactory().CreateMqttClient(MqttNetNullLogger.Instance, new Adapters(channel));
        using ScriptedDpsChannel.Answer answers = channel.Answers;
        client.ApplicationMessageReceivedAsync += answers.OnMessageAsync;
        var options = new MqttClientOptions
        {
            ProtocolVersion = MqttProtocolVersion.V311,
            ClientId = "bench-" + device,
            CleanSession = true,
            KeepAlivePeriod = TimeSpan.Zero,
            Timeout = TimeSpan.FromSeconds(30),
            ChannelOptions = Placeholder,
            Credentials = new MqttClientCredentials("0ne00000001/registrations/bench/api-version=2021-06-01", new byte[120]),
        };
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await client.ConnectAsync(options, deadline.Token);
        await client.SubscribeAsync(Subscription, deadline.Token);
        await client.PublishAsync(Publish("$dps/registrations/PUT/iotdps-register/?$rid=1", Assigning), deadline.Token);
        await answers.WaitAsync(1, deadline.Token);
        await client.PublishAsync(Publish("$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=4.d0a6.op", default), deadline.Token);
        await answers.WaitAsync(2, deadline.Token);
        await client.DisconnectAsync(Normal, deadline.Token);
    }

    /// <summary>The same packets through MQTTnet's channel adapter and formatter alone, in order (no client).</summary>
    public static async Task ThroughAdapterAsync(int device)
    {
        var channel = new ScriptedDpsChannel();
        using var adapter = new MqttChannelAdapter(channel, new MqttPacketFormatterAdapter(MqttProtocolVersion.V311, new MqttBufferWriter(1024, 65535)), MqttNetNullLogger.Instance);
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        CancellationToken token = deadline.Token;
        await adapter.ConnectAsync(token);
        await adapter.SendPacketAsync(new MqttConnectPacket { ClientId = "bench-" + device, CleanSession = true, Username = "0ne00000001/registrations/bench/api-version=2021-06-01", Password = new byte[120] }, token);
        Expect<MqttConnAckPacket>(await adapter.ReceivePacketAsync(token));
        await adapter.SendPacketAsync(new MqttSubscribePacket { PacketIdentifier = 1, TopicFilters = Subscription.TopicFilters }, token);
        Expect<MqttSubAckPacket>(await adapter.ReceivePacketAsync(token));
        await adapter.SendPacketAsync(new MqttPublishPacket { Topic = "$dps/registrations/PUT/iotdps-register/?$rid=1", Payload = new ReadOnlySequence<byte>(Assigning), QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce, PacketIdentifier = 2 }, token);
        Expect<MqttPubAckPacket>(await adapter.ReceivePacketAsync(token));
        var answer = Expect<MqttPublishPacket>(await adapter.ReceivePacketAsync(token));
        await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = answer.PacketIdentifier }, token);
        await adapter.SendPacketAsync(new MqttPublishPacket { Topic = "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId=4.d0a6.op", QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce, PacketIdentifier = 3 }, token);
        Expect<MqttPubAckPacket>(await adapter.ReceivePacketAsync(token));
        answer = Expect<MqttPublishPacket>(await adapter.ReceivePacketAsync(token));
        await adapter.SendPacketAsync(new MqttPubAckPacket { PacketIdentifier = answer.PacketIdentifier }, token);
        await adapter.SendPacketAsync(MqttDisconnectPacket(), token);
        await adapter.DisconnectAsync(token);
    }

    /// <summary>The channel alone, answering the same packets (its own share, to subtract).</summary>
    public static async Task ChannelAloneAsync()
    {
        var channel = new ScriptedDpsChannel();
        byte[] buffer = new byte[512];
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        foreach (byte[] packet in ScriptedDpsChannel.ClientPackets)
        {
            await channel.WriteAsync(new ReadOnlySequence<byte>(packet), true, deadline.Token);
            while (channel.Buffered > 0)
            {
                await channel.ReadAsync(buffer, 0, buffer.Length, deadline.Token);
            }
        }
    }

    private static MqttDisconnectPacket MqttDisconnectPacket() => new() { ReasonCode = MqttDisconnectReasonCode.NormalDisconnection };

    private static T Expect<T>(MqttPacket? packet) where T : MqttPacket =>
        packet as T ?? throw new InvalidOperationException($"Expected {typeof(T).Name}, received {packet?.GetType().Name ?? "nothing"}.");

    private static MqttApplicationMessage Publish(string topic, byte[]? payload) => new()
    {
        Topic = topic,
        Payload = payload is null ? ReadOnlySequence<byte>.Empty : new ReadOnlySequence<byte>(payload),
        QualityOfServiceLevel = MqttQualityOfServiceLevel.AtLeastOnce,
    };

    private sealed class Adapters(ScriptedDpsChannel channel) : IMqttClientAdapterFactory
    {
        public IMqttChannelAdapter CreateClientAdapter(MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger) =>
            new MqttChannelAdapter(channel, new MqttPacketFormatterAdapter(options.ProtocolVersion, new MqttBufferWriter(1024, options.WriterBufferSizeMax)), logger)
            {
                PacketInspector = packetInspector,
            };
    }

    /// <summary>An in-memory MQTT peer that answers as DPS does: CONNACK 0, SUBACK granting QoS 1, and for each QoS 1 PUBLISH its
    /// PUBACK followed by the response PUBLISH (QoS 1) of that request; end of stream after DISCONNECT.</summary>
    private sealed class ScriptedDpsChannel : IMqttChannel
    {
        public static readonly byte[][] ClientPackets = [[0x10, 0x00], [0x82, 0x00, 0x00, 0x01], [0x32, 0x00, 0x00, 0x00, 0x00, 0x02], [0x32, 0x00, 0x00, 0x00, 0x00, 0x03], [0xE0, 0x00]];

        private readonly byte[] _inbound = new byte[2048];
        private readonly Lock _lock = new();
        private int _start;
        private int _end;
        private int _responses;
        private bool _closed;
        private bool _inPacket;
        private TaskCompletionSource<int>? _waiting;
        private byte[]? _waitingBuffer;
        private int _waitingOffset;
        private int _waitingCount;

        public Answer Answers { get; } = new();

        public int Buffered => _end - _start;

        public X509Certificate2? ClientCertificate => null;

        public EndPoint? RemoteEndPoint => null;

        public EndPoint? LocalEndPoint => null;

        public bool IsSecureConnection => true;

        public Task ConnectAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task DisconnectAsync(CancellationToken cancellationToken)
        {
            Close();
            return Task.CompletedTask;
        }

        public void Dispose() => Close();

        public Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            lock (_lock)
            {
                if (_end > _start || _closed)
                {
                    return Task.FromResult(Take(buffer, offset, count));
                }

                _waiting = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
                _waitingBuffer = buffer;
                _waitingOffset = offset;
                _waitingCount = count;
                return _waiting.Task;
            }
        }

        public Task WriteAsync(ReadOnlySequence<byte> buffer, bool isEndOfPacket, CancellationToken cancellationToken)
        {
            bool first = !_inPacket;
            _inPacket = !isEndOfPacket;
            if (!first)
            {
                return Task.CompletedTask;
            }

            ReadOnlySpan<byte> packet = buffer.FirstSpan;
            switch (packet[0] & 0xF0)
            {
                case 0x10: // CONNECT
                    Append([0x20, 0x02, 0x00, 0x00]);
                    break;
                case 0x80: // SUBSCRIBE
                    Append([0x90, 0x03, packet[2], packet[3], 0x01]);
                    break;
                case 0x30: // PUBLISH, QoS 1: its PUBACK, then the answer to it
                    int topicAt = 1 + LengthBytes(packet);
                    int idAt = topicAt + 2 + BinaryPrimitives.ReadUInt16BigEndian(packet[topicAt..]);
                    Append([0x40, 0x02, packet[idAt], packet[idAt + 1]]);
                    _responses++;
                    AppendPublish(_responses == 1 ? ResponseTopic1 : ResponseTopic2, _responses == 1 ? Assigning : Assigned, (ushort)_responses);
                    break;
                case 0xE0: // DISCONNECT
                    Close();
                    break;
            }

            return Task.CompletedTask;
        }

        private static int LengthBytes(ReadOnlySpan<byte> packet)
        {
            int i = 1;
            while ((packet[i] & 0x80) != 0 && i < 4)
            {
                i++;
            }

            return i;
        }

        private void AppendPublish(string topic, byte[] payload, ushort id)
        {
            int remaining = 2 + topic.Length + 2 + payload.Length;
            Span<byte> head = stackalloc byte[5];
            int h = 0;
            head[h++] = 0x32;
            do
            {
                byte digit = (byte)(remaining & 0x7F);
                remaining >>= 7;
                head[h++] = remaining > 0 ? (byte)(digit | 0x80) : digit;
            }
            while (remaining > 0);

            Span<byte> packet = stackalloc byte[h + 2 + topic.Length + 2 + payload.Length];
            head[..h].CopyTo(packet);
            BinaryPrimitives.WriteUInt16BigEndian(packet[h..], (ushort)topic.Length);
            Encoding.ASCII.GetBytes(topic, packet[(h + 2)..]);
            BinaryPrimitives.WriteUInt16BigEndian(packet[(h + 2 + topic.Length)..], id);
            payload.CopyTo(packet[(h + 4 + topic.Length)..]);
            Append(packet);
        }

        private void Append(ReadOnlySpan<byte> bytes)
        {
            TaskCompletionSource<int>? waiting;
            int taken = 0;
            lock (_lock)
            {
                bytes.CopyTo(_inbound.AsSpan(_end));
                _end += bytes.Length;
                waiting = _waiting;
                _waiting = null;
                if (waiting is not null)
                {
                    taken = Take(_waitingBuffer!, _waitingOffset, _waitingCount);
                }
            }

            waiting?.SetResult(taken);
        }

        private int Take(byte[] buffer, int offset, int count)
        {
            int n = Math.Min(count, _end - _start);
            _inbound.AsSpan(_start, n).CopyTo(buffer.AsSpan(offset));
            _start += n;
            if (_start == _end)
            {
                _start = _end = 0;
            }

            return n;
        }

        private void Close()
        {
            TaskCompletionSource<int>? waiting;
            lock (_lock)
            {
                _closed = true;
                waiting = _waiting;
                _waiting = null;
            }

            waiting?.SetResult(0);
        }

        /// <summary>Counts the response PUBLISHes the client delivers, and lets the caller wait for the n-th.</summary>
        internal sealed class Answer : IDisposable
        {
            private readonly SemaphoreSlim _received = new(0);

            public Task OnMessageAsync(MqttApplicationMessageReceivedEventArgs args)
            {
                _received.Release();
                return Task.CompletedTask;
            }

            public Task WaitAsync(int n, CancellationToken cancellationToken) => _received.WaitAsync(cancellationToken);

            public void Dispose() => _received.Dispose();
        }
    }
}

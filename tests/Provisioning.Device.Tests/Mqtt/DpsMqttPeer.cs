using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading.Channels;

using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Channel;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>
/// A scripted DPS over MQTT (dps-protocol.md §5) on a real MQTTnet broker: TLS on a loopback port (and WebSockets
/// through <see cref="MqttWebSocketHost"/>). It records every CONNECT, SUBSCRIBE, PUBLISH, PUBACK and disconnect,
/// and answers each request PUBLISH, after its PUBACK, with the next scripted response at QoS 1.
/// </summary>
public sealed class DpsMqttPeer : IAsyncDisposable
{
    private const string ServiceClientId = "$dps-service";
    private const string DropMarker = "(drop)";

    private readonly MqttServer _server;
    private readonly PeerAdapter _adapter = new();
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly SslStreamCertificateContext _certificate;
    private readonly ConcurrentQueue<Func<string, (string Topic, string Body)>> _responses = new();
    private readonly ConcurrentQueue<MqttConnectReasonCode> _refusals = new();
    private readonly ConcurrentDictionary<string, (string Topic, string Body)> _afterPubAck = new();
    private readonly Channel<MqttClientDisconnectType> _disconnects = Channel.CreateUnbounded<MqttClientDisconnectType>();
    private Task _acceptLoop = Task.CompletedTask;
    private int _tcpConnections;

    private DpsMqttPeer(X509Certificate2 serverCertificate)
    {
        _certificate = SslStreamCertificateContext.Create(serverCertificate, additionalCertificates: null, offline: true);
        MqttServerOptions options = new MqttServerOptionsBuilder().WithoutDefaultEndpoint().Build();
        _server = new MqttServerFactory().CreateMqttServer(options, [_adapter], MqttNetNullLogger.Instance);
        _server.ValidatingConnectionAsync += OnConnectingAsync;
        _server.InterceptingSubscriptionAsync += args =>
        {
            Record(Subscriptions, (args.TopicFilter.Topic, args.TopicFilter.QualityOfServiceLevel));
            return Task.CompletedTask;
        };
        _server.InterceptingPublishAsync += OnPublishAsync;
        _server.InterceptingOutboundPacketAsync += OnOutboundAsync;
        _server.ClientAcknowledgedPublishPacketAsync += args =>
        {
            Record(AcknowledgedTopics, args.PublishPacket.Topic);
            return Task.CompletedTask;
        };
        _server.ClientDisconnectedAsync += args => _disconnects.Writer.WriteAsync(args.DisconnectType).AsTask();
    }

    public static async Task<DpsMqttPeer> StartAsync(X509Certificate2 serverCertificate)
    {
        var peer = new DpsMqttPeer(serverCertificate);
        await peer._server.StartAsync();
        peer._listener.Start();
        peer._acceptLoop = Task.Run(peer.AcceptLoopAsync);
        return peer;
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public List<ConnectRecord> Connects { get; } = [];

    public List<(string Topic, MqttQualityOfServiceLevel QoS)> Subscriptions { get; } = [];

    public List<(string Topic, string Body, MqttQualityOfServiceLevel QoS)> Publishes { get; } = [];

    /// <summary>The topics of the responses the client acknowledged (PUBACK).</summary>
    public List<string> AcknowledgedTopics { get; } = [];

    /// <summary>The subject of each TLS client certificate, and the extra certificates sent after it.</summary>
    public List<string> ClientSubjects { get; } = [];

    public List<string> ClientChainSubjects { get; } = [];

    /// <summary>TCP connections accepted (before TLS or MQTT).</summary>
    public int TcpConnections => Volatile.Read(ref _tcpConnections);

    /// <summary>Scripts the next answer: <c>$dps/registrations/res/{status}/?$rid={rid}[&amp;retry-after={s}]</c>.</summary>
    public DpsMqttPeer Reply(int status, string body, int? retryAfter = null) =>
        ReplyRaw(rid => $"$dps/registrations/res/{status}/?$rid={rid}" + (retryAfter is { } s ? $"&retry-after={s}" : string.Empty), body);

    /// <summary>Scripts the next answer with any topic, given the request's $rid.</summary>
    public DpsMqttPeer ReplyRaw(Func<string, string> topic, string body)
    {
        _responses.Enqueue(rid => (topic(rid), body));
        return this;
    }

    /// <summary>Answers the next request by closing the client's connection (without DISCONNECT, after the PUBACK).</summary>
    public DpsMqttPeer DropInsteadOfReplying() => ReplyRaw(_ => DropMarker, string.Empty);

    /// <summary>Refuses the next CONNECT with this reason (MQTTnet sends its 3.1.1 return code).</summary>
    public DpsMqttPeer RefuseNextConnect(MqttConnectReasonCode reason)
    {
        _refusals.Enqueue(reason);
        return this;
    }

    /// <summary>Waits for the next client to go away, and says whether it sent DISCONNECT (Clean).</summary>
    public async Task<MqttClientDisconnectType> NextDisconnectAsync() =>
        await _disconnects.Reader.ReadAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10));

    /// <summary>Serves one MQTT connection over any channel (used by the WebSocket host).</summary>
    internal Task ServeAsync(IMqttChannel channel) => _adapter.ServeAsync(channel);

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        await _server.StopAsync();
        _server.Dispose();
        _stop.Dispose();
    }

    internal static string RequestId(string topic)
    {
        int start = topic.IndexOf("$rid=", StringComparison.Ordinal) + 5;
        int end = topic.IndexOf('&', start);
        return end < 0 ? topic[start..] : topic[start..end];
    }

    private static void Record<T>(List<T> list, T item)
    {
        lock (list)
        {
            list.Add(item);
        }
    }

    private Task OnConnectingAsync(ValidatingConnectionEventArgs args)
    {
        Record(Connects, new ConnectRecord(args.ClientId, args.UserName, args.RawPassword is null ? null : args.Password, args.CleanSession, args.KeepAlivePeriod, args.ProtocolVersion));
        if (_refusals.TryDequeue(out MqttConnectReasonCode reason))
        {
            args.ReasonCode = reason;
        }

        return Task.CompletedTask;
    }

    private Task OnPublishAsync(InterceptingPublishEventArgs args)
    {
        if (args.ClientId == ServiceClientId)
        {
            // Our own answer, injected below: routed to the subscriber.
            return Task.CompletedTask;
        }

        MqttApplicationMessage message = args.ApplicationMessage;
        Record(Publishes, (message.Topic, Encoding.UTF8.GetString(message.Payload), message.QualityOfServiceLevel));
        // DPS is not a broker: requests are answered, never routed.
        args.ProcessPublish = false;
        if (_responses.TryDequeue(out Func<string, (string, string)>? respond))
        {
            _afterPubAck[args.ClientId] = respond(RequestId(message.Topic));
        }

        return Task.CompletedTask;
    }

    private Task OnOutboundAsync(InterceptingPacketEventArgs args)
    {
        // §5: the answer follows the PUBACK of its request.
        if (args.Packet is MqttPubAckPacket && _afterPubAck.TryRemove(args.ClientId, out (string Topic, string Body) response))
        {
            if (response.Topic == DropMarker)
            {
                string clientId = args.ClientId;
                _ = Task.Run(() => _server.DisconnectClientAsync(clientId, MqttDisconnectReasonCode.UnspecifiedError));
                return Task.CompletedTask;
            }

            _ = Task.Run(() => _server.InjectApplicationMessage(
                new InjectedMqttApplicationMessage(
                    new MqttApplicationMessageBuilder()
                        .WithTopic(response.Topic)
                        .WithPayload(response.Body)
                        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
                        .Build())
                { SenderClientId = ServiceClientId },
                CancellationToken.None));
        }

        return Task.CompletedTask;
    }

    private async Task AcceptLoopAsync()
    {
        var connections = new List<Task>();
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                break;
            }

            Interlocked.Increment(ref _tcpConnections);
            client.NoDelay = true;
            connections.Add(Task.Run(() => ServeTlsAsync(client)));
        }

        await Task.WhenAll(connections);
    }

    private async Task ServeTlsAsync(TcpClient client)
    {
        using (client)
        {
            var tls = new SslStream(client.GetStream());
            try
            {
                await tls.AuthenticateAsServerAsync(
                    new SslServerAuthenticationOptions
                    {
                        ServerCertificateContext = _certificate,
                        // Asked for, not required: symmetric-key devices send none.
                        ClientCertificateRequired = true,
                        RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                        {
                            RecordClientCertificate(certificate, chain);
                            // The test inspects what arrived; trust decisions are the client's side of these tests.
                            return certificate is not null || errors == SslPolicyErrors.RemoteCertificateNotAvailable;
                        },
                    },
                    _stop.Token);
            }
            catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException or OperationCanceledException)
            {
                // A client that refuses our certificate hangs up during the handshake; the test checks the client's error.
                await tls.DisposeAsync();
                return;
            }

            using var channel = new MqttTcpChannel(tls, client.Client.RemoteEndPoint!, client.Client.LocalEndPoint!, null!);
            await ServeAsync(channel);
        }
    }

    internal void RecordClientCertificate(X509Certificate? certificate, X509Chain? chain)
    {
        lock (ClientSubjects)
        {
            if (certificate is not null)
            {
                ClientSubjects.Add(certificate.Subject);
            }

            if (chain is not null)
            {
                ClientChainSubjects.AddRange(chain.ChainPolicy.ExtraStore.Select(c => c.Subject));
            }
        }
    }

    public sealed record ConnectRecord(string ClientId, string UserName, string? Password, bool? CleanSession, ushort? KeepAlive, MqttProtocolVersion Version);

    /// <summary>Hands connections accepted by the peer (TLS or WebSocket) to the MQTTnet server.</summary>
    private sealed class PeerAdapter : IMqttServerAdapter
    {
        public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

        public Task StartAsync(MqttServerOptions options, IMqttNetLogger logger) => Task.CompletedTask;

        public Task StopAsync() => Task.CompletedTask;

        public void Dispose()
        {
        }

        public async Task ServeAsync(IMqttChannel channel)
        {
            using var adapter = new MqttChannelAdapter(channel, new MqttPacketFormatterAdapter(new MqttBufferWriter(4096, 65536)), MqttNetNullLogger.Instance);
            await ClientHandler!(adapter);
        }
    }
}

using System.Buffers;
using System.Text;

using Provisioning.Device.Transport.Http;
using Provisioning.Device.Transport.Mqtt;

using Provisioning.Device.Transport;

namespace Provisioning.Device.Tests.Integration;

/// <summary>
/// The production MQTT connection (MQTTnet over our TLS or WebSocket channel) with every connection, request and close
/// counted, so integration tests can bound the traffic and see each connection closed.
/// </summary>
internal sealed class MqttConnectionCounter : IDisposable
{
    private readonly SocketEndpoint _endpoint;
    private readonly HttpMessageInvoker? _webSocketInvoker;
    private readonly TimeSpan _requestTimeout;
    private readonly List<Counted> _connections = [];
    private int _registers;
    private int _statusRequests;
    private int _assigningAnswers;

    private MqttConnectionCounter(SocketEndpoint endpoint, HttpMessageInvoker? webSocketInvoker, TimeSpan requestTimeout)
    {
        _endpoint = endpoint;
        _webSocketInvoker = webSocketInvoker;
        _requestTimeout = requestTimeout;
    }

    /// <summary>Register publishes sent.</summary>
    public int Registers => Volatile.Read(ref _registers);

    /// <summary>Operation status publishes sent.</summary>
    public int StatusRequests => Volatile.Read(ref _statusRequests);

    /// <summary>Answers received with status 202 whose body says <c>assigning</c> (the register's and each poll's).</summary>
    public int AssigningAnswers => Volatile.Read(ref _assigningAnswers);

    /// <summary>Called with the number of each operation status request (1, 2, …) before it is published.</summary>
    public Action<int>? OnStatusRequest { get; set; }

    /// <summary>Connections opened (CONNECT sent).</summary>
    public int Connections
    {
        get
        {
            lock (_connections)
            {
                return _connections.Count(c => c.Connected);
            }
        }
    }

    /// <summary>Connections the client sent DISCONNECT on.</summary>
    public int Disconnects
    {
        get
        {
            lock (_connections)
            {
                return _connections.Count(c => c.Disconnected);
            }
        }
    }

    /// <summary>Opened connections the client has released (DISCONNECT or disposal) and that are closed.</summary>
    public int Closed
    {
        get
        {
            lock (_connections)
            {
                return _connections.Count(c => c.Connected && c.Released && !c.IsConnected);
            }
        }
    }

    /// <summary>A client for <paramref name="session"/>'s MQTT endpoint over <paramref name="transport"/>, counting its traffic.</summary>
    public static ProvisioningDeviceClient CreateClient(EmulatorSession session, ProvisioningAttestation attestation, ProvisioningTransport transport,
        out MqttConnectionCounter counter, ProvisioningClientOptions? options = null)
    {
        options ??= session.CreateOptions();
        options.Transport = transport;
        string endpoint = transport == ProvisioningTransport.Mqtt
            ? "mqtts://" + session.Dps.MqttEndpoint
            : session.Dps.WebSocketEndpoint!.GetLeftPart(UriPartial.Authority);
        var mqttEndpoint = SocketEndpoint.Create(endpoint, attestation, options);
        var invoker = transport == ProvisioningTransport.MqttWebSockets
            ? new HttpMessageInvoker(ProvisioningHttpHandler.Create(attestation, options), disposeHandler: true)
            : null;
        var created = new MqttConnectionCounter(mqttEndpoint, invoker, options.RequestTimeout);
        counter = created;
        return new ProvisioningDeviceClient(endpoint, session.Dps.IdScope, attestation, options, handler: null, created.Connect);
    }

    public void Dispose() => _webSocketInvoker?.Dispose();

    private Counted Connect()
    {
        var connection = new Counted(this, new MqttNetDpsConnection(_endpoint, _webSocketInvoker, _requestTimeout));
        lock (_connections)
        {
            _connections.Add(connection);
        }

        return connection;
    }

    private sealed class Counted(MqttConnectionCounter owner, IDpsMqttConnection inner) : IDpsMqttConnection
    {
        public bool Connected { get; private set; }

        public bool Released { get; private set; }

        public bool Disconnected { get; private set; }

        public bool IsConnected => inner.IsConnected;

        public void SetHandlers(Action<string, ReadOnlySequence<byte>> messageReceived, Action<Exception?> connectionLost) =>
            inner.SetHandlers(
                (topic, payload) =>
                {
                    if (topic.StartsWith("$dps/registrations/res/202/", StringComparison.Ordinal)
                        && Encoding.UTF8.GetString(payload).Contains("\"status\":\"assigning\"", StringComparison.Ordinal))
                    {
                        Interlocked.Increment(ref owner._assigningAnswers);
                    }

                    messageReceived(topic, payload);
                },
                connectionLost);

        public ValueTask<int> ConnectAsync(string clientId, string userName, string? password, CancellationToken cancellationToken)
        {
            Connected = true;
            return inner.ConnectAsync(clientId, userName, password, cancellationToken);
        }

        public ValueTask<bool> SubscribeAsync(string topicFilter, CancellationToken cancellationToken) => inner.SubscribeAsync(topicFilter, cancellationToken);

        public ValueTask PublishAsync(string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
        {
            if (topic.Contains("/PUT/iotdps-register/", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref owner._registers);
            }
            else
            {
                // Counted first: with no callback, ?.Invoke would skip evaluating its argument.
                int number = Interlocked.Increment(ref owner._statusRequests);
                owner.OnStatusRequest?.Invoke(number);
            }

            return inner.PublishAsync(topic, payload, cancellationToken);
        }

        public async ValueTask DisconnectAsync(CancellationToken cancellationToken)
        {
            await inner.DisconnectAsync(cancellationToken).ConfigureAwait(false);
            Disconnected = true;
            Released = true;
        }

        public void Dispose()
        {
            inner.Dispose();
            Released = true;
        }
    }
}

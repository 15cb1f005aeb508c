using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Provisioning.Emulator.Hubs;

/// <summary>One emulated Azure IoT hub: an MQTT 3.1.1 endpoint over TLS that authenticates devices against an
/// <see cref="IHubDeviceRegistry"/> and implements the device topics of telemetry, C2D, twin and direct methods.</summary>
/// <remarks>dps-protocol.md §8. Credential failures (unknown or disabled device, forged, expired or wrong-audience token, wrong
/// certificate) answer CONNACK 5 "not authorized", as IoT Hub does; a username or password that does not parse answers 4.
/// <para>Twins live in the hub's memory. One survives reconnects and re-registrations that keep the device's data, and starts again
/// from the entry's initial twin when DPS resets the data (<see cref="HubDevice.TwinGeneration"/>). The registry carries no twin
/// data, so a device DPS migrates to another hub (substatus <c>deviceDataMigrated</c>) starts there from its initial twin too:
/// unlike IoT Hub, the emulator does not copy the twin across hubs.</para></remarks>
public sealed partial class EmulatedIotHub : IAsyncDisposable
{
    private const string DeviceItem = "hub.device";
    private const string ExpiryItem = "hub.expiry";
    private const string CertificateNameItem = "hub.certificate-cn";
    private const string ConnectionItem = "hub.connection";
    private const string HubSenderPrefix = "$hub/";

    private readonly EmulatedIotHubOptions _options;
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, DeviceState> _devices = new(StringComparer.Ordinal);
    private MqttServer? _server;

    private EmulatedIotHub(EmulatedIotHubOptions options, int port)
    {
        _options = options;
        _logger = options.LoggerFactory?.CreateLogger<EmulatedIotHub>() ?? NullLogger<EmulatedIotHub>.Instance;
        EndPoint = new IPEndPoint(options.BindAddress, port);
    }

    /// <summary>The hub host name.</summary>
    public string HubHostName => _options.HubHostName;

    /// <summary>Where the MQTT endpoint listens.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>The listening address as <c>host:port</c> (<c>emulator.json</c>'s <c>mqttAddress</c>).</summary>
    public string MqttAddress => EndPoint.ToString();

    /// <summary>How long a client has to complete its TLS handshake (the WebSocket endpoint uses it too).</summary>
    internal TimeSpan TlsHandshakeTimeout => _options.TlsHandshakeTimeout;

    /// <summary>Whether the endpoint is accepting connections.</summary>
    public bool IsRunning => _server?.IsStarted == true;

    /// <summary>How many free ports a hub on port 0 tries before giving up.</summary>
    internal const int PortAttempts = 5;

    /// <summary>Starts a hub.</summary>
    public static Task<EmulatedIotHub> StartAsync(EmulatedIotHubOptions options, CancellationToken cancellationToken = default) =>
        StartAsync(options, FreePort, cancellationToken);

    /// <summary>Starts a hub, choosing its port with <paramref name="pickPort"/> when <see cref="EmulatedIotHubOptions.Port"/> is 0.</summary>
    /// <remarks>MQTTnet binds its own listener and does not report the port it got for port 0, so a free port is probed first.
    /// Another process may take that port before MQTTnet binds it; a start that loses this race is retried on a new port, up
    /// to <see cref="PortAttempts"/> times. A port the caller chose is never swapped for another.</remarks>
    internal static async Task<EmulatedIotHub> StartAsync(EmulatedIotHubOptions options, Func<IPAddress, int> pickPort, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        for (var attempt = 1; ; attempt++)
        {
            var hub = new EmulatedIotHub(options, options.Port == 0 ? pickPort(options.BindAddress) : options.Port);
            try
            {
                await hub.StartAsync(cancellationToken).ConfigureAwait(false);
                return hub;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse && options.Port == 0 && attempt < PortAttempts)
            {
                HubLog.PortTaken(hub._logger, options.HubHostName, hub.MqttAddress, attempt);
            }
        }
    }

    /// <summary>Starts the endpoint again on the same port after <see cref="StopAsync"/> (a broker restart).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_server is not null)
        {
            return;
        }

        var serverOptions = new MqttServerOptionsBuilder()
            .WithoutDefaultEndpoint()
            .WithPersistentSessions(false)
            .Build();

        // Our own TLS socket (HubMqttListener): a handshake deadline and packet caps MQTTnet's endpoint does not have. It asks
        // for a client certificate but accepts any: X.509 devices are matched by thumbprint after the handshake (self-signed
        // device certificates are normal in IoT Hub), SAS devices send none.
        var server = new MqttServerFactory().CreateMqttServer(serverOptions, [new HubMqttListener(_options, EndPoint, AcceptDeviceCertificate)]);
        server.ValidatingConnectionAsync += ValidateConnectionAsync;
        server.ClientConnectedAsync += OnClientConnectedAsync;
        server.ClientDisconnectedAsync += OnClientDisconnectedAsync;
        server.InterceptingPublishAsync += InterceptPublishAsync;
        server.InterceptingSubscriptionAsync += InterceptSubscriptionAsync;
        server.InterceptingClientEnqueueAsync += InterceptEnqueueAsync;
        server.ClientAcknowledgedPublishPacketAsync += OnClientAcknowledgedAsync;
        server.ClientSubscribedTopicAsync += OnClientSubscribedAsync;
        try
        {
            await server.StartAsync().ConfigureAwait(false);
        }
        catch (SocketException)
        {
            // A port that cannot be bound leaves nothing running; release the server before the caller retries or gives up.
            server.Dispose();
            throw;
        }

        _server = server;
        HubLog.Listening(_logger, HubHostName, MqttAddress);
    }

    /// <summary>Stops the endpoint, dropping every connection; the captured telemetry and twins stay.</summary>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var server = Interlocked.Exchange(ref _server, null);
        if (server is null)
        {
            return;
        }

        await server.StopAsync(new MqttServerStopOptionsBuilder().Build()).ConfigureAwait(false);
        server.Dispose();
        foreach (var state in _devices.Values)
        {
            state.Connected = false;
            state.CloudSubscribed = false;
        }
    }

    /// <summary>Stops the endpoint for good; the captured telemetry and twins can still be read.</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        foreach (var state in _devices.Values)
        {
            state.Dispose();
        }
    }

    /// <summary>How many times the device has connected successfully.</summary>
    public int GetConnectionCount(string deviceId) => _devices.TryGetValue(deviceId, out var state) ? state.ConnectionCount : 0;

    /// <summary>Whether the device is connected now.</summary>
    public bool IsConnected(string deviceId) => _devices.TryGetValue(deviceId, out var state) && state.Connected;

    /// <summary>Disables (or enables) a device in the registry; disabling drops its connection, as the IoT Hub service does.</summary>
    public async Task SetDeviceEnabledAsync(string deviceId, bool enabled, CancellationToken cancellationToken = default)
    {
        var device = await _options.Registry.FindAsync(HubHostName, deviceId, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Device '{deviceId}' is not registered in hub '{HubHostName}'.");
        await _options.Registry.UpsertAsync(device with { Enabled = enabled }, cancellationToken).ConfigureAwait(false);
        if (!enabled)
        {
            await DisconnectDeviceAsync(deviceId, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Drops the device's connection (it may reconnect).</summary>
    public async Task DisconnectDeviceAsync(string deviceId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_server is { } server && IsConnected(deviceId))
        {
            await server.DisconnectClientAsync(deviceId, new MqttServerClientDisconnectOptionsBuilder()
                .WithReasonCode(MqttDisconnectReasonCode.AdministrativeAction).Build()).ConfigureAwait(false);
        }
    }

    private DeviceState State(string deviceId) => _devices.GetOrAdd(deviceId, static (_, depth) => new DeviceState(depth), _options.CloudToDeviceQueueDepth);

    private async Task ValidateConnectionAsync(ValidatingConnectionEventArgs e)
    {
        var (code, why) = await AuthenticateAsync(e).ConfigureAwait(false);
        e.ReasonCode = code;
        if (code != MqttConnectReasonCode.Success)
        {
            // The reason never includes the token or key.
            HubLog.Refused(_logger, HubHostName, e.ClientId, why);
        }
    }

    private async Task<(MqttConnectReasonCode, string)> AuthenticateAsync(ValidatingConnectionEventArgs e)
    {
        if (e.ProtocolVersion != MqttProtocolVersion.V311)
        {
            return (MqttConnectReasonCode.UnsupportedProtocolVersion, "not MQTT 3.1.1");
        }

        var deviceId = e.ClientId;
        if (string.IsNullOrEmpty(deviceId) || deviceId.Contains('/', StringComparison.Ordinal))
        {
            return (MqttConnectReasonCode.ClientIdentifierNotValid, "no device id");
        }

        var userPrefix = $"{HubHostName}/{deviceId}/?";
        if (e.UserName is not { } user || !user.StartsWith(userPrefix, StringComparison.OrdinalIgnoreCase)
            || HubTopics.QueryValue(user, "api-version") is null)
        {
            return (MqttConnectReasonCode.BadUserNameOrPassword, "username is not {hub}/{deviceId}/?api-version=…");
        }

        var device = await _options.Registry.FindAsync(HubHostName, deviceId, e.CancellationToken).ConfigureAwait(false);
        if (device is null || !string.Equals(device.DeviceId, deviceId, StringComparison.Ordinal))
        {
            // IoT Hub device ids are case-sensitive: 'ADV-A' is not the device 'adv-a'.
            return (MqttConnectReasonCode.NotAuthorized, "unknown device");
        }

        if (!device.Enabled)
        {
            return (MqttConnectReasonCode.NotAuthorized, "device disabled");
        }

        DateTimeOffset? expiresAt = null;
        if (device.Kind == HubCredentialKind.CertificateAuthority)
        {
            if (e.ClientCertificate is not { } certificate)
            {
                return (MqttConnectReasonCode.NotAuthorized, "no client certificate");
            }

            if (CheckCertificateAuthority(certificate, deviceId) is { } problem)
            {
                return (MqttConnectReasonCode.NotAuthorized, problem);
            }
        }
        else if (device.Kind == HubCredentialKind.X509)
        {
            if (e.ClientCertificate is not { } certificate)
            {
                return (MqttConnectReasonCode.NotAuthorized, "no client certificate");
            }

            var thumbprint = Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256));
            if (!string.Equals(thumbprint, device.Thumbprint, StringComparison.OrdinalIgnoreCase))
            {
                return (MqttConnectReasonCode.NotAuthorized, "certificate thumbprint does not match");
            }

            // An expired (or not yet valid) certificate is refused even when its thumbprint is the registered one.
            var now = _options.TimeProvider.GetUtcNow();
            if (now < certificate.NotBefore.ToUniversalTime() - _options.ClockSkew || now > certificate.NotAfter.ToUniversalTime() + _options.ClockSkew)
            {
                return (MqttConnectReasonCode.NotAuthorized, "certificate expired or not yet valid");
            }
        }
        else
        {
            var refusal = HubSasValidator.Validate(e.Password, HubHostName, deviceId, device, _options.TimeProvider.GetUtcNow(), _options.ClockSkew,
                out var expiry);
            if (refusal == SasRefusal.Malformed)
            {
                return (MqttConnectReasonCode.BadUserNameOrPassword, "password is not a SAS token");
            }

            if (refusal != SasRefusal.None)
            {
                return (MqttConnectReasonCode.NotAuthorized, $"SAS token refused ({refusal})");
            }

            expiresAt = expiry;
        }

        e.SessionItems[DeviceItem] = device;
        if (e.ClientCertificate is { } presented)
        {
            e.SessionItems[CertificateNameItem] = presented.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        }

        e.SessionItems[ConnectionItem] = new object();
        if (expiresAt is { } value)
        {
            e.SessionItems[ExpiryItem] = value;
        }

        return (MqttConnectReasonCode.Success, string.Empty);
    }

    private Task OnClientConnectedAsync(ClientConnectedEventArgs e)
    {
        var state = State(e.ClientId);
        Interlocked.Increment(ref state.ConnectionCount);
        state.Connection = e.SessionItems[ConnectionItem];
        state.Connected = true;
        return Task.CompletedTask;
    }

    private Task OnClientDisconnectedAsync(ClientDisconnectedEventArgs e)
    {
        // A connection that a newer one of the same device took over may report its end after the newer one started.
        if (e.SessionItems.Contains(DeviceItem) && State(e.ClientId) is var state && state.Connection == e.SessionItems[ConnectionItem])
        {
            state.Connected = false;
            state.CloudSubscribed = false;
        }

        return Task.CompletedTask;
    }

    private Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs e)
    {
        if (!HubTopics.IsAllowedSubscription(e.TopicFilter.Topic, e.ClientId))
        {
            HubLog.ForbiddenSubscription(_logger, HubHostName, e.ClientId, e.TopicFilter.Topic);
            e.ProcessSubscription = false;
            e.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
        }

        return Task.CompletedTask;
    }

    /// <summary>Messages from the hub carry the target device in their sender id; nobody else receives them.</summary>
    private static Task InterceptEnqueueAsync(InterceptingClientApplicationMessageEnqueueEventArgs e)
    {
        e.AcceptEnqueue = e.SenderClientId is { } sender && sender.Length == HubSenderPrefix.Length + e.ReceiverClientId.Length
            && sender.StartsWith(HubSenderPrefix, StringComparison.Ordinal) && sender.EndsWith(e.ReceiverClientId, StringComparison.Ordinal);
        return Task.CompletedTask;
    }

    /// <summary>IoT Hub's CA-signed X.509 authentication: the certificate must chain (signatures checked) to one of
    /// <see cref="EmulatedIotHubOptions.DeviceCertificateAuthorities"/>, every certificate of the chain be valid now (within the
    /// clock skew), the leaf carry the clientAuth extended key usage when it has that extension at all, and its subject CN be
    /// the device id (case-sensitive, as device ids are). Null when it is accepted, else why not (never secret).</summary>
    /// <remarks>Any such certificate is accepted, not only the last one issued: after a renewal the previous certificate keeps
    /// working until it expires, as with IoT Hub's CA authentication (the hub does not track issued certificates).</remarks>
    private string? CheckCertificateAuthority(X509Certificate2 certificate, string deviceId)
    {
        if (_options.DeviceCertificateAuthorities is not { Count: > 0 } authorities)
        {
            return "the hub trusts no device certificate authority";
        }

        if (!string.Equals(certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false), deviceId, StringComparison.Ordinal))
        {
            return "certificate CN is not the device id";
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(authorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true; // no network fetch (AIA) while a CONNECT waits
        // Time is checked below against the hub's clock (a TimeProvider, with its skew), not the machine's.
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.IgnoreNotTimeValid;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2"));
        try
        {
            if (!chain.Build(certificate))
            {
                var status = chain.ChainStatus.Aggregate(X509ChainStatusFlags.NoError, (all, s) => all | s.Status);
                return $"certificate does not chain to the hub's certificate authority ({status})";
            }

            var now = _options.TimeProvider.GetUtcNow();
            for (var i = 0; i < chain.ChainElements.Count; i++)
            {
                var link = chain.ChainElements[i].Certificate;
                if (now < link.NotBefore.ToUniversalTime() - _options.ClockSkew || now > link.NotAfter.ToUniversalTime() + _options.ClockSkew)
                {
                    return i == 0 ? "certificate expired or not yet valid" : "a CA certificate of the chain expired or is not yet valid";
                }
            }

            return null;
        }
        finally
        {
            foreach (var element in chain.ChainElements)
            {
                if (!ReferenceEquals(element.Certificate, certificate))
                {
                    element.Certificate.Dispose();
                }
            }
        }
    }

    /// <summary>A device certificate need not chain to anything the hub trusts (it is matched by thumbprint later), and SAS
    /// devices present none; any other TLS error still fails the handshake.</summary>
    private static bool AcceptDeviceCertificate(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        (errors & ~(SslPolicyErrors.RemoteCertificateChainErrors | SslPolicyErrors.RemoteCertificateNotAvailable)) == SslPolicyErrors.None;

    private static int FreePort(IPAddress address)
    {
        using var probe = new TcpListener(address, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    private sealed class DeviceState(int cloudQueueDepth) : IDisposable
    {
        public readonly HubTelemetryLog Telemetry = new();
        public readonly HubCloudToDeviceQueue CloudMessages = new(cloudQueueDepth);
        public readonly SemaphoreSlim DeliveryGate = new(1, 1);
        public long DeliveryRound;
        public volatile bool CloudSubscribed;
        public readonly ConcurrentQueue<int> TwinFaults = new();
        public HubTwinStore? Twin;
        public int ConnectionCount;
        public volatile bool Connected;
        public volatile object? Connection;

        public void Dispose() => DeliveryGate.Dispose();
    }
}

using System.Security.Cryptography.X509Certificates;

using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Encoding;
using Microsoft.Azure.Amqp.Framing;
using Microsoft.Azure.Amqp.Sasl;
using Microsoft.Azure.Amqp.Transport;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using Provisioning.Emulator.Device;

namespace Provisioning.Emulator.Amqp;

/// <summary>
/// DPS over AMQP 1.0 (dps-protocol.md §6), on Microsoft.Azure.Amqp, served by the same <see cref="DeviceService"/> as
/// HTTPS and MQTT: SASL PLAIN (SAS) or TPM (the challenge in SASL frames), or TLS alone (X.509); then one session with a
/// receiver and a sender addressed <c>{idScope}/registrations/{registrationId}</c> (or <c>amqps://{host}/…</c>, the C SDK's
/// form); each request message is answered on the device's receiver, or rejected with the DPS error JSON.
/// </summary>
/// <remarks>
/// Bad input gets an AMQP answer, never a crash: a protocol header that is not AMQP is answered with ours and the socket
/// closed (AMQP 1.0 §2.2); a wrong SASL exchange ends with the outcome <c>auth</c>; a link to another address is refused
/// with <c>amqp:not-found</c> or <c>amqp:unauthorized-access</c>; frames over the negotiated size and undecodable frames
/// close the connection with the library's error. Every connection has a deadline for its handshake.
/// </remarks>
internal sealed partial class DpsAmqpEndpoint : IRuntimeProvider, IAsyncDisposable
{
    public const string ApiVersionProperty = "com.microsoft:api-version";

    /// <summary>The largest request message taken: the 96 KB body limit plus room for properties.</summary>
    public const ulong MaxMessageBytes = 112 * 1024;

    private static readonly AmqpVersion Version100 = new(1, 0, 0);
    private static readonly TimeSpan HandshakeTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan CloseGrace = TimeSpan.FromMilliseconds(500);

    private readonly DeviceService _service;
    private readonly DpsAmqpSasl _sasl;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly HashSet<Task> _inFlight = [];
    private DpsAmqpListener? _listener;
    private int _connections;

    private DpsAmqpEndpoint(DeviceService service, ILogger logger)
    {
        _service = service;
        _sasl = new DpsAmqpSasl(service);
        _logger = logger;
    }

    /// <summary>AMQP connections open now (header, SASL and open done, not yet closed).</summary>
    public int ConnectionCount => Volatile.Read(ref _connections);

    /// <summary>The TCP port of AMQP over TLS, or null when off.</summary>
    public int? TcpPort => _listener?.TcpPort;

    /// <summary>The port of AMQP over WebSockets, or null when off.</summary>
    public int? WebSocketPort => _listener?.WebSocketPort;

    /// <summary>Starts the endpoint on <paramref name="tcpPort"/> and <paramref name="webSocketPort"/> (0: the OS chooses; null: off).</summary>
    public static async Task<DpsAmqpEndpoint> StartAsync(DeviceService service, X509Certificate2 serverCertificate, int? tcpPort, int? webSocketPort,
        ILoggerFactory? loggerFactory, CancellationToken cancellationToken)
    {
        var endpoint = new DpsAmqpEndpoint(service, loggerFactory?.CreateLogger<DpsAmqpEndpoint>() ?? NullLogger<DpsAmqpEndpoint>.Instance);
        endpoint._listener = await DpsAmqpListener.StartAsync(serverCertificate, tcpPort, webSocketPort, loggerFactory, endpoint.ServeConnectionAsync, cancellationToken)
            .ConfigureAwait(false);
        return endpoint;
    }

    /// <summary>Stops serving: aborts every connection, waits for the answers in flight, closes the sockets.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        Task[] inFlight;
        lock (_gate)
        {
            inFlight = [.. _inFlight];
        }

        await Task.WhenAll(inFlight).ConfigureAwait(false);
        if (_listener is not null)
        {
            await _listener.DisposeAsync().ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    /// <summary>One device connection, from its protocol header to its close.</summary>
    private async Task ServeConnectionAsync(AcceptedAmqpStream accepted)
    {
        var stream = accepted.Stream;
        var transport = new AmqpServerStreamTransport(stream, accepted.Local, accepted.Remote);
        AmqpConnection? connection = null;
        var counted = false;
        try
        {
            using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, accepted.Closed);
            handshake.CancelAfter(HandshakeTimeout);
            var header = await ReadHeaderAsync(stream, handshake.Token).ConfigureAwait(false);
            TransportBase amqpTransport = transport;
            DpsAmqpPrincipal? principal = null;
            if (header is [(byte)'A', (byte)'M', (byte)'Q', (byte)'P', 3, 1, 0, 0])
            {
                await WriteHeaderAsync(stream, ProtocolId.AmqpSasl, handshake.Token).ConfigureAwait(false);
                var provider = new SaslTransportProvider();
                provider.Versions.Add(Version100);
                provider.AddHandler(new SaslPlainServerHandler(_sasl, why => AmqpLog.SaslRefused(_logger, accepted.Remote, why)));
                provider.AddHandler(new SaslTpmServerHandler(_sasl, why => AmqpLog.SaslRefused(_logger, accepted.Remote, why)));
                amqpTransport = provider.CreateTransport(transport, isInitiator: false);
                await amqpTransport.OpenAsync(handshake.Token).ConfigureAwait(false);
                principal = amqpTransport.Principal as DpsAmqpPrincipal;
                header = await ReadHeaderAsync(stream, handshake.Token).ConfigureAwait(false);
            }

            if (header is not [(byte)'A', (byte)'M', (byte)'Q', (byte)'P', 0, 1, 0, 0])
            {
                // AMQP 1.0 §2.2: answer with the header we speak, then close.
                await WriteHeaderAsync(stream, principal is null ? ProtocolId.AmqpSasl : ProtocolId.Amqp, handshake.Token).ConfigureAwait(false);
                AmqpLog.ConnectionRefused(_logger, accepted.Remote, "the protocol header is not AMQP 1.0.0 (or AMQP SASL 1.0.0 first)");
                return;
            }

            var settings = new AmqpSettings { RuntimeProvider = this };
            var amqp = new AmqpTransportProvider();
            amqp.Versions.Add(Version100);
            settings.TransportProviders.Add(amqp);
            var server = new DpsServerConnection(amqpTransport, new ProtocolHeader(ProtocolId.Amqp, Version100), settings,
                new AmqpConnectionSettings { ContainerId = "dps-emulator", MaxFrameSize = 64 * 1024, ChannelMax = 7, IdleTimeOut = 240_000 });
            connection = server;
            connection.Extensions.Add(new DpsAmqpConnectionState(principal, accepted.ClientCertificate, accepted.Intermediates));
            var closed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            connection.Closed += (_, _) => closed.TrySetResult();
            var open = connection.OpenAsync(handshake.Token);
            _ = open.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            if (await Task.WhenAny(open, closed.Task, server.Faulted).ConfigureAwait(false) != open)
            {
                await EndFaultedAsync(server, accepted.Remote).ConfigureAwait(false);
                return;
            }

            await open.ConfigureAwait(false);
            Interlocked.Increment(ref _connections);
            counted = true;
            using (_stopping.Token.Register(() => server.Abort()))
            using (accepted.Closed.Register(() => server.Abort()))
            {
                if (await Task.WhenAny(closed.Task, server.Faulted).ConfigureAwait(false) != closed.Task)
                {
                    await EndFaultedAsync(server, accepted.Remote).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A device's bad bytes end its own connection only; the reason is logged, never its secrets.
            AmqpLog.ConnectionEnded(_logger, ex, accepted.Remote, ex.Message);
        }
        finally
        {
            if (counted)
            {
                Interlocked.Decrement(ref _connections);
            }

            connection?.Abort();
            transport.Abort();
        }
    }

    /// <summary>
    /// A frame the library could not take (undecodable, over the frame size, out of order): it has sent a close with the
    /// error; the device gets a moment to read it, then the socket closes rather than wait for the device's close.
    /// </summary>
    private async Task EndFaultedAsync(DpsServerConnection connection, string remote)
    {
        AmqpLog.ConnectionRefused(_logger, remote, connection.TerminalException?.Message ?? "a frame could not be read");
        try
        {
            await Task.Delay(CloseGrace, TimeProvider.System, _stopping.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopping: abort at once.
        }

        connection.Abort();
    }

    private static async Task<byte[]> ReadHeaderAsync(Stream stream, CancellationToken cancellationToken)
    {
        var header = new byte[8];
        await stream.ReadExactlyAsync(header, cancellationToken).ConfigureAwait(false);
        return header;
    }

    private static async Task WriteHeaderAsync(Stream stream, ProtocolId protocol, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(new byte[] { (byte)'A', (byte)'M', (byte)'Q', (byte)'P', (byte)protocol, 1, 0, 0 }, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    AmqpConnection IConnectionFactory.CreateConnection(TransportBase transport, ProtocolHeader protocolHeader, bool isInitiator, AmqpSettings amqpSettings,
        AmqpConnectionSettings connectionSettings) => throw new NotSupportedException("The emulator opens its connections itself.");

    AmqpSession ISessionFactory.CreateSession(AmqpConnection connection, AmqpSessionSettings settings) => new(connection, settings, this);

    /// <summary>
    /// A device link: its address must be <c>{idScope}/registrations/{registrationId}</c> of the SASL identity (or, for
    /// X.509, of the connection's first link). Throwing here detaches the link with the error (the library's ErrorLink).
    /// </summary>
    AmqpLink ILinkFactory.CreateLink(AmqpSession session, AmqpLinkSettings settings)
    {
        var state = session.Connection.Extensions.Find<DpsAmqpConnectionState>()
            ?? throw new AmqpException(AmqpErrorCode.InternalError, "The connection has no DPS state.");
        var deviceSends = settings.Role == true;
        var address = deviceSends ? (settings.Target as Target)?.Address?.ToString() : (settings.Source as Source)?.Address?.ToString();
        try
        {
            if (ParseAddress(address) is not var (idScope, registrationId))
            {
                throw new AmqpException(AmqpErrorCode.NotFound, "The link address is not {idScope}/registrations/{registrationId}.");
            }

            state.Bind(idScope, registrationId, ReadProperty(settings.Properties, ApiVersionProperty));
        }
        catch (AmqpException ex)
        {
            AmqpLog.LinkRefused(_logger, address, ex.Error.Description);
            throw;
        }

        if (deviceSends)
        {
            settings.TotalLinkCredit = 16;
            settings.AutoSendFlow = true;
            settings.MaxMessageSize = MaxMessageBytes;
            var receiver = new ReceivingAmqpLink(session, settings);
            receiver.RegisterMessageListener(message => Serve(state, session.Connection, receiver, message));
            return receiver;
        }

        var sender = new SendingAmqpLink(session, settings);
        state.Sender = sender;
        return sender;
    }

    IAsyncResult ILinkFactory.BeginOpenLink(AmqpLink link, TimeSpan timeout, AsyncCallback callback, object state)
    {
        var done = new TaskCompletionSource(state);
        done.SetResult();
        callback(done.Task);
        return done.Task;
    }

    void ILinkFactory.EndOpenLink(IAsyncResult result)
    {
    }

    /// <summary>Splits <c>{idScope}/registrations/{registrationId}</c>, optionally after <c>amqps://{host}/</c> (the C SDK).</summary>
    internal static (string IdScope, string RegistrationId)? ParseAddress(string? address)
    {
        if (string.IsNullOrEmpty(address) || address.Length > 512)
        {
            return null;
        }

        if (address.StartsWith("amqps://", StringComparison.OrdinalIgnoreCase))
        {
            var slash = address.IndexOf('/', "amqps://".Length);
            if (slash < 0)
            {
                return null;
            }

            address = address[(slash + 1)..];
        }

        var parts = address.Split('/');
        return parts.Length == 3 && parts[1] == "registrations" && parts[0].Length > 0 && DeviceService.IsValidRegistrationId(parts[2])
            ? (parts[0], parts[2])
            : null;
    }

    internal static string? ReadProperty(AmqpMap? map, string name)
    {
        if (map is null)
        {
            return null;
        }

        foreach (var entry in map)
        {
            if (string.Equals(entry.Key.ToString(), name, StringComparison.Ordinal))
            {
                return entry.Value as string;
            }
        }

        return null;
    }
}

/// <summary>A server connection that tells when a frame from the device could not be taken (the library then closes it).</summary>
internal sealed class DpsServerConnection(TransportBase transport, ProtocolHeader header, AmqpSettings settings, AmqpConnectionSettings connectionSettings)
    : AmqpConnection(transport, header, false, settings, connectionSettings)
{
    private readonly TaskCompletionSource _faulted = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Faulted => _faulted.Task;

    protected override void OnFrameBuffer(ByteBuffer buffer)
    {
        try
        {
            base.OnFrameBuffer(buffer);
        }
        catch
        {
            _faulted.TrySetResult();
            throw;
        }
    }
}

/// <summary>
/// What one AMQP connection established: the SASL principal, the TLS client certificate, and the registration its
/// links address (all links of a connection address the same one).
/// </summary>
internal sealed class DpsAmqpConnectionState(DpsAmqpPrincipal? principal, X509Certificate2? clientCertificate, IReadOnlyList<byte[]> intermediates)
{
    private readonly Lock _gate = new();

    public DpsAmqpPrincipal? Principal => principal;

    public string? IdScope { get; private set; }

    public string? RegistrationId { get; private set; }

    public string? ApiVersion { get; private set; }

    /// <summary>The link on which answers go to the device, once it attached its receiver.</summary>
    public SendingAmqpLink? Sender { get; set; }

    /// <summary>Ties the connection to the registration of its first link; a later link to another one is refused.</summary>
    public void Bind(string idScope, string registrationId, string? apiVersion)
    {
        if (principal is not null && (!string.Equals(principal.IdScope, idScope, StringComparison.OrdinalIgnoreCase)
            || !string.Equals(principal.RegistrationId, registrationId, StringComparison.OrdinalIgnoreCase)))
        {
            throw new AmqpException(AmqpErrorCode.UnauthorizedAccess, "The link address is not the registration this connection authenticated as.");
        }

        lock (_gate)
        {
            if (RegistrationId is not null && (!string.Equals(IdScope, idScope, StringComparison.OrdinalIgnoreCase)
                || !string.Equals(RegistrationId, registrationId, StringComparison.OrdinalIgnoreCase)))
            {
                throw new AmqpException(AmqpErrorCode.UnauthorizedAccess, "All links of a connection address the same registration.");
            }

            IdScope = idScope;
            RegistrationId = registrationId;
            ApiVersion ??= apiVersion;
        }
    }

    /// <summary>The transport-neutral request for the device service.</summary>
    public DeviceRequest ToDeviceRequest() =>
        new(IdScope!, RegistrationId!, ApiVersion, principal?.Sas ?? "", clientCertificate, null, intermediates);
}

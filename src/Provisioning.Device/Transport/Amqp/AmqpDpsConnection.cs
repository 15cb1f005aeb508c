using System.Net.Security;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Encoding;
using Microsoft.Azure.Amqp.Framing;
using Microsoft.Azure.Amqp.Sasl;
using Microsoft.Azure.Amqp.Transport;

namespace Provisioning.Device.Transport.Amqp;

/// <summary>
/// One AMQP connection to DPS for one registration (dps-protocol.md §6): TLS (or a secure WebSocket), SASL (PLAIN with the
/// SAS, <c>TPM</c>, or none for X.509), one session, a receiver and a sender both addressed
/// <c>{idScope}/registrations/{registrationId}</c> with the api-version and client-version attach properties.
/// </summary>
internal sealed class AmqpDpsConnection : IAsyncDisposable
{
    public const string WebSocketSubProtocol = "AMQPWSB10";
    public const string ApiVersionProperty = "com.microsoft:api-version";
    public const string ClientVersionProperty = "com.microsoft:client-version";

    /// <summary>The largest message accepted from the service: the body limit plus room for properties.</summary>
    public const ulong MaxMessageBytes = DpsResponseReader.MaxBodyBytes + 16 * 1024;

    private static readonly AmqpVersion Version100 = new(1, 0, 0);

    /// <summary>AMQP 1.0 §5.3.1: the SASL protocol header (read-only: only ever written).</summary>
    private static readonly byte[] SaslHeader = [(byte)'A', (byte)'M', (byte)'Q', (byte)'P', (byte)ProtocolId.AmqpSasl, 1, 0, 0];

    private readonly AmqpConnection _connection;

    private AmqpDpsConnection(AmqpConnection connection, SendingAmqpLink sender, ReceivingAmqpLink receiver)
    {
        _connection = connection;
        Sender = sender;
        Receiver = receiver;
    }

    public SendingAmqpLink Sender { get; }

    public ReceivingAmqpLink Receiver { get; }

    public bool IsOpen =>
        _connection.State == AmqpObjectState.Opened && Sender.State == AmqpObjectState.Opened && Receiver.State == AmqpObjectState.Opened;

    /// <summary>
    /// Opens the connection, session and links; on failure nothing stays open. <paramref name="sasl"/> is the SASL
    /// mechanism, or <see langword="null"/> for none (X.509: TLS alone, §4).
    /// </summary>
    public static async Task<AmqpDpsConnection> OpenAsync(
        SocketEndpoint endpoint, HttpMessageInvoker? webSocketInvoker, SaslHandler? sasl, string address, string apiVersion, string clientVersion, CancellationToken cancellationToken)
    {
        Stream stream = endpoint.WebSocketUri is { } uri
            ? ProvisioningFeatures.IsWebSocketsSupported
                ? await ConnectWebSocketAsync(uri, webSocketInvoker!, cancellationToken).ConfigureAwait(false)
                : throw ProvisioningFeatures.Removed(ProvisioningTransport.AmqpWebSockets, ProvisioningFeatures.WebSocketsSwitch)
            : await ConnectTlsAsync(endpoint, cancellationToken).ConfigureAwait(false);
        TransportBase transport = new AmqpStreamTransport(stream, null, null);
        AmqpConnection? connection = null;
        try
        {
            var settings = new AmqpSettings();
            if (sasl is not null)
            {
                await ExchangeHeaderAsync(stream, ProtocolId.AmqpSasl, cancellationToken).ConfigureAwait(false);
                var saslProvider = new SaslTransportProvider();
                saslProvider.Versions.Add(Version100);
                saslProvider.AddHandler(sasl);
                transport = saslProvider.CreateTransport(transport, isInitiator: true);
                await transport.OpenAsync(cancellationToken).ConfigureAwait(false);
            }

            var amqpProvider = new AmqpTransportProvider();
            amqpProvider.Versions.Add(Version100);
            settings.TransportProviders.Add(amqpProvider);
            connection = new AmqpConnection(
                transport,
                new ProtocolHeader(ProtocolId.Amqp, Version100),
                settings,
                new AmqpConnectionSettings { ContainerId = Guid.NewGuid().ToString(), HostName = endpoint.Host });
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);

            AmqpSession session = connection.CreateSession(new AmqpSessionSettings());
            await session.OpenAsync(cancellationToken).ConfigureAwait(false);

            // The receiver first, so no answer can arrive before there is a link to take it (the C# SDK's order).
            var receiver = new ReceivingAmqpLink(session, LinkSettings(receiver: true, address, apiVersion, clientVersion));
            await receiver.OpenAsync(cancellationToken).ConfigureAwait(false);
            var sender = new SendingAmqpLink(session, LinkSettings(receiver: false, address, apiVersion, clientVersion));
            await sender.OpenAsync(cancellationToken).ConfigureAwait(false);
            return new AmqpDpsConnection(connection, sender, receiver);
        }
        catch
        {
            connection?.Abort();
            transport.Abort();
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Closes gracefully within <paramref name="timeout"/>, then aborts whatever is left.</summary>
    public async Task CloseAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _connection.CloseAsync(cancel.Token).ConfigureAwait(false);
        }
        finally
        {
            _connection.Abort();
        }
    }

    public void Abort() => _connection.Abort();

    public ValueTask DisposeAsync()
    {
        _connection.Abort();
        return default;
    }

    private static AmqpLinkSettings LinkSettings(bool receiver, string address, string apiVersion, string clientVersion)
    {
        var settings = new AmqpLinkSettings
        {
            LinkName = Guid.NewGuid().ToString("N"),
            Role = receiver,
            Source = receiver ? new Source { Address = address } : new Source(),
            Target = receiver ? new Target() : new Target { Address = address },
            SettleType = receiver ? SettleMode.SettleOnReceive : SettleMode.SettleOnDispose,
            TotalLinkCredit = receiver ? 4u : 0u,
            AutoSendFlow = receiver,
            MaxMessageSize = MaxMessageBytes,
            Properties = new Fields(),
        };
        settings.Properties.Add(new AmqpSymbol(ApiVersionProperty), apiVersion);
        settings.Properties.Add(new AmqpSymbol(ClientVersionProperty), clientVersion);
        return settings;
    }

    /// <summary>Sends a protocol header and checks that the service answers with the same one (AMQP 1.0 §2.2).</summary>
    private static async Task ExchangeHeaderAsync(Stream stream, ProtocolId protocol, CancellationToken cancellationToken)
    {
        byte[] header = protocol == ProtocolId.AmqpSasl ? SaslHeader : [(byte)'A', (byte)'M', (byte)'Q', (byte)'P', (byte)protocol, 1, 0, 0];
        await stream.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        byte[] reply = new byte[header.Length];
        await stream.ReadExactlyAsync(reply, cancellationToken).ConfigureAwait(false);
        if (!reply.AsSpan().SequenceEqual(header))
        {
            throw new ProvisioningException(
                $"The provisioning service answered the AMQP {(protocol == ProtocolId.AmqpSasl ? "SASL " : "")}protocol header with " +
                $"'{Encoding.ASCII.GetString(reply, 0, 4)}' {reply[4]}.{reply[5]}.{reply[6]}.{reply[7]} (protocol id, version): it does not speak this protocol.",
                isTransient: false);
        }
    }

    private static async Task<Stream> ConnectTlsAsync(SocketEndpoint endpoint, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        SslStream? tls = null;
        try
        {
            await socket.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken).ConfigureAwait(false);
            tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
            await tls.AuthenticateAsClientAsync(
                endpoint.CreateTlsOptions(),
                cancellationToken).ConfigureAwait(false);
            return tls;
        }
        catch
        {
            tls?.Dispose();
            socket.Dispose();
            throw;
        }
    }

    private static async Task<Stream> ConnectWebSocketAsync(Uri uri, HttpMessageInvoker invoker, CancellationToken cancellationToken)
    {
        var socket = new ClientWebSocket();
        try
        {
            socket.Options.AddSubProtocol(WebSocketSubProtocol);
            socket.Options.CollectHttpResponseDetails = true;
            try
            {
                await socket.ConnectAsync(uri, invoker, cancellationToken).ConfigureAwait(false);
            }
            catch (WebSocketException ex) when (socket.HttpStatusCode is { } status && status != 0 && status != System.Net.HttpStatusCode.SwitchingProtocols)
            {
                // An HTTP answer that is not the upgrade: the status says whether trying again may help (§1.7).
                throw new ProvisioningException(
                    $"The server at {uri} did not accept an AMQP WebSocket: it answered {(int)status} ({status}).",
                    DpsResponseReader.IsTransientStatus((int)status),
                    statusCode: status,
                    innerException: ex);
            }

            if (socket.SubProtocol != WebSocketSubProtocol)
            {
                throw new ProvisioningException(
                    $"The WebSocket server at {uri} did not accept the {WebSocketSubProtocol} subprotocol (it chose '{socket.SubProtocol}').", isTransient: false);
            }

            return WebSocketStream.Create(socket, WebSocketMessageType.Binary, ownsWebSocket: true);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}

using System.Net.Security;

namespace Provisioning.Device.Transport;

/// <summary>Where and how a socket connection to DPS (MQTT or AMQP, over TLS or WebSockets) is opened: host, port, TLS trust
/// and client certificate, WebSocket URI.</summary>
/// <remarks>dps-protocol.md §5: MQTT on TCP 8883; §6: AMQP on TCP 5671; either as <c>wss://{host}:443{path}</c> with its
/// subprotocol (<c>mqtt</c>, <c>AMQPWSB10</c>).</remarks>
internal sealed class SocketEndpoint
{
    public const int DefaultMqttPort = 8883;
    public const int DefaultAmqpPort = 5671;
    public const int DefaultWebSocketPort = 443;

    private SocketEndpoint(string host, int port, Uri? webSocketUri)
    {
        Host = host;
        Port = port;
        WebSocketUri = webSocketUri;
    }

    public string Host { get; }

    public int Port { get; }

    /// <summary>The WebSocket URI, or <see langword="null"/> over TCP.</summary>
    public Uri? WebSocketUri { get; }

    /// <summary>The TLS client certificate and its chain (X.509, §4), or <see langword="null"/>.</summary>
    public SslStreamCertificateContext? ClientCertificate { get; private init; }

    /// <summary>Checks the server certificate: the system's validation, and the extra roots of the options besides.</summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; private init; }

    /// <summary>With extra roots, the chain policy the handshake builds its one chain with (against those roots, as over HTTPS), so
    /// the system store is read only when they do not vouch for the server; <see langword="null"/> without extra roots.</summary>
    public System.Security.Cryptography.X509Certificates.X509ChainPolicy? ServerCertificateChainPolicy { get; private init; }

    /// <summary>The TLS options of one connection to this endpoint: its host, the client certificate and the server check.</summary>
    public SslClientAuthenticationOptions CreateTlsOptions() => new()
    {
        TargetHost = Host,
        ClientCertificateContext = ClientCertificate,
        RemoteCertificateValidationCallback = ServerCertificateValidation,
        CertificateChainPolicy = ServerCertificateChainPolicy,
    };

    /// <summary>
    /// Parses <c>host</c>, <c>host:port</c>, or (matching the transport) <c>mqtts://host[:port]</c>, <c>amqps://host[:port]</c>
    /// or <c>wss://host[:port]</c>; the default port is 8883 (MQTT) or 5671 (AMQP) over TCP, 443 over WebSockets.
    /// </summary>
    /// <exception cref="ArgumentException">The endpoint is not of that form.</exception>
    public static SocketEndpoint Create(string globalEndpoint, ProvisioningAttestation attestation, ProvisioningClientOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(globalEndpoint);
        bool amqp = options.Transport is ProvisioningTransport.Amqp or ProvisioningTransport.AmqpWebSockets;
        bool webSockets = options.Transport is ProvisioningTransport.MqttWebSockets or ProvisioningTransport.AmqpWebSockets;
        string scheme = webSockets ? "wss" : amqp ? "amqps" : "mqtts";
        string text = globalEndpoint.Contains("://", StringComparison.Ordinal) ? globalEndpoint : scheme + "://" + globalEndpoint;
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || uri.Scheme != scheme || uri.AbsolutePath != "/" ||
            uri.Query.Length > 0 || uri.Fragment.Length > 0 || uri.UserInfo.Length > 0)
        {
            throw new ArgumentException(
                $"Over {options.Transport} the global endpoint must be a host name, host:port or a {scheme}:// URI with no path or query" +
                (webSockets ? $" (the path is {nameof(ProvisioningClientOptions)}.{nameof(ProvisioningClientOptions.WebSocketPath)})." : "."),
                nameof(globalEndpoint));
        }

        // Uri reports a scheme's default port as if it were given, so the text says whether a port was given.
        string authority = text[(scheme.Length + 3)..].Split('/')[0];
        bool portGiven = authority.LastIndexOf(':') > authority.LastIndexOf(']');
        int port = portGiven ? uri.Port : webSockets ? DefaultWebSocketPort : amqp ? DefaultAmqpPort : DefaultMqttPort;
        Uri? webSocketUri = webSockets ? new UriBuilder("wss", uri.Host, port, options.WebSocketPath).Uri : null;
        return new SocketEndpoint(uri.IdnHost, port, webSocketUri)
        {
            ClientCertificate = attestation.ClientCertificateContext,
            ServerCertificateValidation = ServerCertificateTrust.CreateCallback(options.TrustedRootCertificates),
            ServerCertificateChainPolicy = ServerCertificateTrust.CreateChainPolicy(options.TrustedRootCertificates),
        };
    }
}

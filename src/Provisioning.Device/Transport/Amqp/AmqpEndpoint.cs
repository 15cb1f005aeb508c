using System.Net.Security;

namespace Provisioning.Device.Transport.Amqp;

/// <summary>Where and how an AMQP connection to DPS is opened: host, port, TLS trust and client certificate, WebSocket URI.</summary>
/// <remarks>dps-protocol.md §6: <c>amqps://{host}:5671</c>, or <c>wss://{host}:443{path}</c> with the <c>AMQPWSB10</c> subprotocol.</remarks>
internal sealed class AmqpEndpoint
{
    public const int DefaultTcpPort = 5671;
    public const int DefaultWebSocketPort = 443;

    private AmqpEndpoint(string host, int port, Uri? webSocketUri)
    {
        Host = host;
        Port = port;
        WebSocketUri = webSocketUri;
    }

    public string Host { get; }

    public int Port { get; }

    /// <summary>The WebSocket URI, or <see langword="null"/> for AMQP over TCP.</summary>
    public Uri? WebSocketUri { get; }

    /// <summary>The TLS client certificate and its chain (X.509, §4), or <see langword="null"/>.</summary>
    public SslStreamCertificateContext? ClientCertificate { get; private init; }

    /// <summary>Checks the server certificate: the system's validation, and the extra roots of the options besides.</summary>
    public RemoteCertificateValidationCallback? ServerCertificateValidation { get; private init; }

    /// <summary>
    /// Parses <c>host</c>, <c>host:port</c>, or (matching the transport) <c>amqps://host[:port]</c> /
    /// <c>wss://host[:port]</c>; the default port is 5671 for TCP and 443 for WebSockets.
    /// </summary>
    /// <exception cref="ArgumentException">The endpoint is not of that form.</exception>
    public static AmqpEndpoint Create(string globalEndpoint, ProvisioningAttestation attestation, ProvisioningClientOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(globalEndpoint);
        bool webSockets = options.Transport == ProvisioningTransport.AmqpWebSockets;
        string scheme = webSockets ? "wss" : "amqps";
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
        int port = portGiven ? uri.Port : webSockets ? DefaultWebSocketPort : DefaultTcpPort;
        Uri? webSocketUri = webSockets ? new UriBuilder("wss", uri.Host, port, options.WebSocketPath).Uri : null;
        return new AmqpEndpoint(uri.IdnHost, port, webSocketUri)
        {
            ClientCertificate = attestation.ClientCertificateContext,
            ServerCertificateValidation = ServerCertificateTrust.CreateCallback(options.TrustedRootCertificates),
        };
    }
}

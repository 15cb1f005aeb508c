using System.Net.Security;

namespace Provisioning.Device.Transport.Http;

/// <summary>Builds the one <see cref="SocketsHttpHandler"/> (one connection pool) of a client.</summary>
/// <remarks>
/// The X.509 chain goes into the TLS handshake through <see cref="SslClientAuthenticationOptions.ClientCertificateContext"/>
/// (dps-protocol.md §4). The server certificate is checked by <see cref="ServerCertificateTrust"/>.
/// </remarks>
internal static class ProvisioningHttpHandler
{
    /// <param name="attestation">The attestation (its client certificate, for X.509).</param>
    /// <param name="options">The client's options.</param>
    /// <param name="tlsRefusals">Where the server-certificate check reports why it refused a certificate.</param>
    public static SocketsHttpHandler Create(ProvisioningAttestation attestation, ProvisioningClientOptions options, TlsRefusalRecorder? tlsRefusals = null)
    {
        var handler = new SocketsHttpHandler
        {
            // DPS never redirects (dps-protocol.md §1): a 3xx is an error naming where it pointed, never followed, so neither
            // the body nor any header is sent anywhere but the endpoint the device was given.
            AllowAutoRedirect = false,
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
        };

        if (options.RequestTimeout != Timeout.InfiniteTimeSpan)
        {
            handler.ConnectTimeout = options.RequestTimeout;
        }

        if (options.Proxy is { } proxy)
        {
            handler.Proxy = proxy;
            handler.UseProxy = true;
        }

        if (attestation.ClientCertificateContext is { } context)
        {
            handler.SslOptions.ClientCertificateContext = context;
        }

        handler.SslOptions.RemoteCertificateValidationCallback = ServerCertificateTrust.CreateCallback(options.TrustedRootCertificates, tlsRefusals is null ? null : tlsRefusals.Record);
        // With extra roots, the handshake builds its one chain against them (the callback then builds none unless they fail);
        // otherwise the system's chain (one build, as before).
        handler.SslOptions.CertificateChainPolicy = ServerCertificateTrust.CreateChainPolicy(options.TrustedRootCertificates);

        return handler;
    }
}

/// <summary>The last reason the server-certificate check gave for refusing a certificate, so that the failed request can say why
/// (the handshake's own exception does not). Connections are made apart from requests, so the reason is handed over here.</summary>
internal sealed class TlsRefusalRecorder
{
    private string? _last;

    public void Record(string reason) => Volatile.Write(ref _last, reason);

    public string? Take() => Interlocked.Exchange(ref _last, null);
}

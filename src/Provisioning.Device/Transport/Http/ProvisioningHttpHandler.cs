using System.Net.Security;

namespace Provisioning.Device.Transport.Http;

/// <summary>Builds the one <see cref="SocketsHttpHandler"/> (one connection pool) of a client.</summary>
/// <remarks>
/// The X.509 chain goes into the TLS handshake through <see cref="SslClientAuthenticationOptions.ClientCertificateContext"/>
/// (dps-protocol.md §4). The server certificate is checked by <see cref="ServerCertificateTrust"/>.
/// </remarks>
internal static class ProvisioningHttpHandler
{
    public static SocketsHttpHandler Create(ProvisioningAttestation attestation, ProvisioningClientOptions options)
    {
        var handler = new SocketsHttpHandler
        {
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

        handler.SslOptions.RemoteCertificateValidationCallback = ServerCertificateTrust.CreateCallback(options.TrustedRootCertificates);

        return handler;
    }
}

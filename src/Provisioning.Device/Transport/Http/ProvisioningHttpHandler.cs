using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Device.Transport.Http;

/// <summary>Builds the one <see cref="SocketsHttpHandler"/> (one connection pool) of a client.</summary>
/// <remarks>
/// The X.509 chain goes into the TLS handshake through <see cref="SslClientAuthenticationOptions.ClientCertificateContext"/>
/// (dps-protocol.md §4). Extra roots are trusted through <see cref="X509ChainTrustMode.CustomRootTrust"/>; the host
/// name check and chain building stay on.
/// </remarks>
internal static class ProvisioningHttpHandler
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

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

        if (options.TrustedRootCertificates.Count > 0)
        {
            var roots = new X509Certificate2Collection();
            roots.AddRange(options.TrustedRootCertificates);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
                IsTrusted(roots, certificate, chain, errors);
        }

        return handler;
    }

    internal static bool IsTrusted(X509Certificate2Collection roots, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        // A wrong host name or a missing certificate is never forgiven; only an unknown root may be one of ours.
        if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is not X509Certificate2 leaf)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.AddRange(roots);
        custom.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        // Private roots (an emulator's, a factory's) publish no revocation lists.
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        if (chain is not null)
        {
            custom.ChainPolicy.ExtraStore.AddRange(chain.ChainPolicy.ExtraStore);
        }

        return custom.Build(leaf);
    }
}

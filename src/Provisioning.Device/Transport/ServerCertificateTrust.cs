using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Device.Transport;

/// <summary>The one check of a service's TLS certificate, for DPS over HTTPS and MQTT and for the hub (Provisioning.Device.Hub
/// uses it through InternalsVisibleTo). Extra roots are trusted <em>in addition to</em> the system store.</summary>
/// <remarks>
/// The system's validation stands first (chain to a system root, serverAuth, host name). Only when the sole error is an unknown
/// chain is the chain built again against the extra roots, still requiring the serverAuth EKU (RFC 5280 §4.2.1.12,
/// 1.3.6.1.5.5.7.3.1). A host-name mismatch or a missing certificate is never forgiven; validation is never switched off.
/// </remarks>
internal static class ServerCertificateTrust
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");

    /// <summary>The validation callback for <paramref name="extraRoots"/> (copied now), or <see langword="null"/> when there are
    /// none, leaving the system's validation alone.</summary>
    public static RemoteCertificateValidationCallback? CreateCallback(X509Certificate2Collection extraRoots)
    {
        ArgumentNullException.ThrowIfNull(extraRoots);
        if (extraRoots.Count == 0)
        {
            return null;
        }

        var roots = new X509Certificate2Collection();
        roots.AddRange(extraRoots);
        return (_, certificate, chain, errors) => IsTrusted(roots, certificate, chain, errors);
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

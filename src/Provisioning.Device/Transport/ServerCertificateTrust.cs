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
    public static RemoteCertificateValidationCallback? CreateCallback(X509Certificate2Collection extraRoots) => CreateCallback(extraRoots, onRefused: null);

    /// <summary>The validation callback for <paramref name="extraRoots"/> (copied now). When <paramref name="onRefused"/> is set, the
    /// callback always runs (the same decision as the system's, or the extra roots') and reports why it refused a certificate, and
    /// whose, so that a failed handshake can say so; otherwise it is <see langword="null"/> when there are no extra roots.</summary>
    public static RemoteCertificateValidationCallback? CreateCallback(X509Certificate2Collection extraRoots, Action<string>? onRefused)
    {
        ArgumentNullException.ThrowIfNull(extraRoots);
        if (extraRoots.Count == 0 && onRefused is null)
        {
            return null;
        }

        var roots = new X509Certificate2Collection();
        roots.AddRange(extraRoots);
        return (_, certificate, chain, errors) =>
        {
            bool trusted = Check(roots, certificate, chain, errors, out string? refusal);
            if (!trusted && onRefused is not null)
            {
                onRefused(refusal!);
            }

            return trusted;
        };
    }

    /// <summary>The check the callback of <see cref="CreateCallback(X509Certificate2Collection, Action{string}?)"/> makes, for a caller
    /// that keeps <paramref name="roots"/> unchanged itself: the system's decision, or the extra roots'; when refused, why and whose.</summary>
    public static bool Check(X509Certificate2Collection roots, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, out string? refusal)
    {
        string? reason = null;
        bool trusted = roots.Count == 0 ? errors == SslPolicyErrors.None : IsTrusted(roots, certificate, chain, errors, out reason);
        refusal = trusted ? null : Describe(certificate, chain, errors, reason);
        return trusted;
    }

    internal static bool IsTrusted(X509Certificate2Collection roots, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors) =>
        IsTrusted(roots, certificate, chain, errors, out _);

    /// <summary>The chain policy that lets the TLS stack build the one chain against <paramref name="extraRoots"/> (copied now) itself,
    /// so that the callback of <see cref="CreateCallback(X509Certificate2Collection, Action{string}?)"/> need not build it again:
    /// custom root trust, the serverAuth EKU, no revocation lists (as for the extra roots today). The system store is then tried by the
    /// callback only when the extra roots do not vouch for the certificate. <see langword="null"/> when there are no extra roots.</summary>
    /// <remarks>The last policy made is reused while the roots are the same certificates (by their bytes): the TLS stack copies
    /// the policy for each handshake, so many clients of one process (a fleet, a test) share it. It holds its own copies of the
    /// roots, so that a caller disposing theirs does not break it.</remarks>
    public static X509ChainPolicy? CreateChainPolicy(X509Certificate2Collection extraRoots)
    {
        ArgumentNullException.ThrowIfNull(extraRoots);
        if (extraRoots.Count == 0)
        {
            return null;
        }

        if (Volatile.Read(ref s_lastPolicy) is { } last && SameCertificates(last.CustomTrustStore, extraRoots))
        {
            return last;
        }

        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
        };
        foreach (X509Certificate2 root in extraRoots)
        {
            policy.CustomTrustStore.Add(X509CertificateLoader.LoadCertificate(root.RawDataMemory.Span));
        }

        policy.ApplicationPolicy.Add(ServerAuthentication);
        Volatile.Write(ref s_lastPolicy, policy);
        return policy;
    }

    private static X509ChainPolicy? s_lastPolicy;

    private static bool SameCertificates(X509Certificate2Collection a, X509Certificate2Collection b)
    {
        if (a.Count != b.Count)
        {
            return false;
        }

        for (int i = 0; i < a.Count; i++)
        {
            if (!a[i].RawDataMemory.Span.SequenceEqual(b[i].RawDataMemory.Span))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Why a certificate was refused, and whose it is: "untrusted root" (no trusted root), "name mismatch", "expired or not
    /// yet valid" with its validity, "not valid for server authentication", "revoked", and the subject and issuer.</summary>
    internal static string Describe(X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, string? customReason)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return "the server sent no certificate";
        }

        var reasons = new List<string>();
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            reasons.Add("name mismatch (the certificate does not name the host dialled)");
        }

        if (customReason is not null)
        {
            reasons.Add(customReason);
        }
        else if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            reasons.Add(ChainReason(chain?.ChainStatus ?? [], certificate));
        }

        string subject = certificate.Subject.Length > 0 ? certificate.Subject : "(empty subject)";
        return $"{string.Join("; ", reasons)}; certificate subject '{subject}', issuer '{certificate.Issuer}'";
    }

    private static string ChainReason(X509ChainStatus[] statuses, X509Certificate certificate)
    {
        X509ChainStatusFlags flags = X509ChainStatusFlags.NoError;
        foreach (X509ChainStatus status in statuses)
        {
            flags |= status.Status;
        }

        var reasons = new List<string>();
        if ((flags & (X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain)) != 0)
        {
            reasons.Add("untrusted root (the chain does not end at a trusted root; add the CA to TrustedRootCertificates if it is yours)");
        }

        if ((flags & X509ChainStatusFlags.NotTimeValid) != 0)
        {
            string validity = certificate is X509Certificate2 leaf
                ? $" (valid {leaf.NotBefore.ToUniversalTime():u} to {leaf.NotAfter.ToUniversalTime():u})"
                : string.Empty;
            reasons.Add("expired or not yet valid" + validity);
        }

        if ((flags & X509ChainStatusFlags.NotValidForUsage) != 0)
        {
            reasons.Add("not valid for server authentication");
        }

        if ((flags & X509ChainStatusFlags.Revoked) != 0)
        {
            reasons.Add("revoked");
        }

        X509ChainStatusFlags named = X509ChainStatusFlags.UntrustedRoot | X509ChainStatusFlags.PartialChain | X509ChainStatusFlags.NotTimeValid
            | X509ChainStatusFlags.NotValidForUsage | X509ChainStatusFlags.Revoked;
        if ((flags & ~named) != 0 || reasons.Count == 0)
        {
            reasons.Add($"chain errors: {flags & ~named}");
        }

        return string.Join(", ", reasons);
    }

    private static bool IsTrusted(X509Certificate2Collection roots, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, out string? reason)
    {
        reason = null;
        if (errors == SslPolicyErrors.None)
        {
            return true;
        }

        // A wrong host name or a missing certificate is never forgiven; only an unknown root may be one of ours.
        if (errors != SslPolicyErrors.RemoteCertificateChainErrors || certificate is not X509Certificate2 leaf)
        {
            return false;
        }

        if (chain?.ChainPolicy.TrustMode == X509ChainTrustMode.CustomRootTrust)
        {
            // The TLS stack already built the chain against the extra roots (CreateChainPolicy) and it failed: the system store,
            // as the system's own validation would have used it, is the other way to be trusted.
            return IsTrustedBySystem(leaf, chain, out reason);
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

        try
        {
            if (custom.Build(leaf))
            {
                return true;
            }

            reason = ChainReason(custom.ChainStatus, leaf);
            return false;
        }
        finally
        {
            DisposeElements(custom, leaf, roots);
        }
    }

    /// <summary>Frees the certificate objects a chain build created for its elements (X509Chain.Dispose does not), so that their
    /// native handles are not left to the finalizer; never the caller's leaf or roots.</summary>
    private static void DisposeElements(X509Chain chain, X509Certificate2 leaf, X509Certificate2Collection roots)
    {
        foreach (X509ChainElement element in chain.ChainElements)
        {
            X509Certificate2 created = element.Certificate;
            if (!ReferenceEquals(created, leaf) && !Holds(roots, created) && !Holds(chain.ChainPolicy.ExtraStore, created))
            {
                created.Dispose();
            }
        }
    }

    // By reference: X509Certificate2Collection.Contains compares issuer and serial number, not the object.
    private static bool Holds(X509Certificate2Collection collection, X509Certificate2 certificate)
    {
        foreach (X509Certificate2 held in collection)
        {
            if (ReferenceEquals(held, certificate))
            {
                return true;
            }
        }

        return false;
    }

    private static bool IsTrustedBySystem(X509Certificate2 leaf, X509Chain customChain, out string? reason)
    {
        using var system = new X509Chain();
        system.ChainPolicy.ApplicationPolicy.Add(ServerAuthentication);
        // As SslStream's own validation by default (SslClientAuthenticationOptions.CertificateRevocationCheckMode is NoCheck).
        system.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        system.ChainPolicy.ExtraStore.AddRange(customChain.ChainPolicy.ExtraStore);
        try
        {
            if (system.Build(leaf))
            {
                reason = null;
                return true;
            }

            // Said of the chain to the extra roots, as before: the roots the caller named are the ones that matter to them.
            reason = ChainReason(customChain.ChainStatus, leaf);
            return false;
        }
        finally
        {
            DisposeElements(system, leaf, customChain.ChainPolicy.CustomTrustStore);
        }
    }
}

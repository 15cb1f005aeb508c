using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Device;

/// <summary>Checks an issued certificate chain (dps-protocol.md §9: base64 DER, leaf first, then ICAs, then root) before
/// it is used or cached: every byte came from the network.</summary>
/// <remarks>
/// The leaf must carry the key that signed the request and the registration id as its CN, be valid now, be an end entity
/// for client authentication, and chain by signature through the rest to a root: one of the configured trusted roots, or,
/// when none is configured, the chain's own last certificate, which must then be a self-signed CA.
/// </remarks>
public static class IssuedCertificateValidator
{
    /// <summary>The most certificates an issued chain may hold (leaf, intermediates, root).</summary>
    public const int MaxChainLength = 8;
    private const int MaxCertificateBytes = 16 * 1024;
    private const string ClientAuthenticationOid = "1.3.6.1.5.5.7.3.2";

    /// <summary>Validates the chain; returns null when it is acceptable, else why not.</summary>
    public static string? Check(
        IReadOnlyList<string> chain, CertificateSigningKey key, string registrationId, DateTimeOffset now, X509Certificate2Collection? trustedRoots)
    {
        if (chain.Count == 0)
        {
            return "no certificate was issued";
        }

        if (chain.Count > MaxChainLength)
        {
            return $"the chain has {chain.Count} certificates, more than {MaxChainLength}";
        }

        var certificates = new List<X509Certificate2>(chain.Count);
        try
        {
            for (int i = 0; i < chain.Count; i++)
            {
                if (chain[i] is not { Length: > 0 and <= MaxCertificateBytes * 4 / 3 + 4 } text)
                {
                    return $"certificate {i} is empty or too large";
                }

                try
                {
                    certificates.Add(X509CertificateLoader.LoadCertificate(Convert.FromBase64String(text)));
                }
                catch (Exception ex) when (ex is FormatException or CryptographicException)
                {
                    return $"certificate {i} is not base64 DER X.509";
                }
            }

            return CheckLoaded(certificates, key, registrationId, now, trustedRoots);
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
    }

    /// <summary>As <see cref="Check"/>, throwing the refusal as a non-transient <see cref="ProvisioningException"/>.</summary>
    public static void Validate(
        IReadOnlyList<string> chain, CertificateSigningKey key, string registrationId, DateTimeOffset now, X509Certificate2Collection? trustedRoots)
    {
        if (Check(chain, key, registrationId, now, trustedRoots) is { } problem)
        {
            throw new ProvisioningException($"The issued certificate chain for '{registrationId}' was refused: {problem}.", isTransient: false);
        }
    }

    private static string? CheckLoaded(
        List<X509Certificate2> certificates, CertificateSigningKey key, string registrationId, DateTimeOffset now, X509Certificate2Collection? trustedRoots)
    {
        X509Certificate2 leaf = certificates[0];
        if (!key.Matches(leaf))
        {
            return "the leaf certificate does not carry the key of the signing request";
        }

        string commonName = leaf.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (!string.Equals(commonName, registrationId, StringComparison.OrdinalIgnoreCase))
        {
            return $"the leaf certificate's common name '{commonName}' is not the registration id";
        }

        if (now < leaf.NotBefore.ToUniversalTime() || now > leaf.NotAfter.ToUniversalTime())
        {
            return $"the leaf certificate is valid from {leaf.NotBefore.ToUniversalTime():u} to {leaf.NotAfter.ToUniversalTime():u}, not now ({now.UtcDateTime:u})";
        }

        if (leaf.Extensions.OfType<X509BasicConstraintsExtension>().Any(b => b.CertificateAuthority))
        {
            return "the leaf certificate is a CA certificate";
        }

        bool configured = trustedRoots is { Count: > 0 };
        X509Certificate2 last = certificates[^1];
        if (!configured && (certificates.Count < 2 || last.SubjectName.RawData.AsSpan().SequenceEqual(last.IssuerName.RawData) is false))
        {
            return "the chain does not end with a self-signed root and no trusted root is configured";
        }

        using var validation = new X509Chain();
        X509ChainPolicy policy = validation.ChainPolicy;
        policy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        policy.RevocationMode = X509RevocationMode.NoCheck;
        policy.VerificationTime = now.UtcDateTime;
        policy.VerificationTimeIgnored = false;
        policy.DisableCertificateDownloads = true;
        policy.ApplicationPolicy.Add(new Oid(ClientAuthenticationOid));
        if (configured)
        {
            policy.CustomTrustStore.AddRange(trustedRoots!);
        }
        else
        {
            policy.CustomTrustStore.Add(last);
        }

        for (int i = 1; i < certificates.Count; i++)
        {
            policy.ExtraStore.Add(certificates[i]);
        }

        bool built = validation.Build(leaf);
        try
        {
            if (!built)
            {
                var reasons = validation.ChainStatus.Select(s => s.Status).Where(s => s != X509ChainStatusFlags.NoError).Distinct();
                return $"the chain does not verify ({string.Join(", ", reasons)})";
            }
        }
        finally
        {
            foreach (X509ChainElement element in validation.ChainElements)
            {
                if (!certificates.Any(c => ReferenceEquals(c, element.Certificate)))
                {
                    element.Certificate.Dispose();
                }
            }
        }

        return null;
    }
}

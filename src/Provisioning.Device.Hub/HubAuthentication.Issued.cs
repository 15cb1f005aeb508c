using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Device.Hub;

/// <summary>Authentication with a certificate DPS issued (dps-protocol.md §9).</summary>
public abstract partial class HubAuthentication
{
    /// <summary>Authenticates with the certificate DPS issued for the registration's certificate signing request: the leaf
    /// bound to <see cref="DeviceRegistrationResult.CertificateSigningKey"/>, with the chain's intermediates.</summary>
    /// <param name="registration">A result whose chain was validated against its key (by the registration, or when it was
    /// read from the cache).</param>
    /// <exception cref="ArgumentException">The result carries no issued certificate or no key.</exception>
    /// <exception cref="PlatformNotSupportedException">The key cannot be presented to TLS on this platform (a TPM-resident
    /// key needs Linux with the tpm2-openssl provider).</exception>
    public static HubAuthentication FromIssuedCertificate(DeviceRegistrationResult registration)
    {
        ArgumentNullException.ThrowIfNull(registration);
        if (registration.IssuedCertificateChain.Count == 0 || registration.CertificateSigningKey is not { } key)
        {
            throw new ArgumentException(
                $"Registration '{registration.RegistrationId}' carries no issued certificate validated against a key: register with ProvisioningRegistrationRequest.CertificateSigningKey.",
                nameof(registration));
        }

        return FromIssuedCertificate(registration.IssuedCertificateChain, key);
    }

    /// <summary>Extra subscriptions the authentication needs (the credentials API for an issued certificate).</summary>
    internal virtual IEnumerable<string> ExtraSubscriptions => [];

    /// <summary>The api-version of the MQTT user name.</summary>
    internal virtual string HubApiVersion => "2020-09-30";

    /// <summary>Authenticates with an issued chain (base64 DER, leaf first) and the key of its leaf.</summary>
    internal static HubAuthentication FromIssuedCertificate(IReadOnlyList<string> chain, CertificateSigningKey key)
    {
        var authentication = new IssuedCertificateAuthentication();
        try
        {
            authentication.Swap(chain, key);
            return authentication;
        }
        catch
        {
            authentication.Dispose();
            throw;
        }
    }

    /// <summary>The TLS credential for an issued chain: the leaf bound to its key, with the chain's intermediates.</summary>
    internal static (SslStreamCertificateContext Context, X509Certificate2 Leaf, X509Certificate2Collection Intermediates) BuildCredential(
        IReadOnlyList<string> chain, CertificateSigningKey key)
    {
        var certificates = new List<X509Certificate2>(chain.Count);
        try
        {
            foreach (string text in chain)
            {
                certificates.Add(X509CertificateLoader.LoadCertificate(Convert.FromBase64String(text)));
            }

            if (certificates.Count == 0 || !key.Matches(certificates[0]))
            {
                throw new ArgumentException("The issued certificate does not carry the key's public key.", nameof(key));
            }

            X509Certificate2 leaf = key.AttachTo(certificates[0]);
            try
            {
                // The intermediates go with the leaf; a self-signed root is the hub's to know, not to be sent.
                var intermediates = new X509Certificate2Collection();
                foreach (var certificate in certificates.Skip(1))
                {
                    if (!certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData))
                    {
                        intermediates.Add(X509CertificateLoader.LoadCertificate(certificate.RawData));
                    }
                }

                return (SslStreamCertificateContext.Create(leaf, intermediates, offline: true), leaf, intermediates);
            }
            catch
            {
                leaf.Dispose();
                throw;
            }
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            throw new ArgumentException("The issued certificate chain is not base64 DER X.509.", nameof(chain), ex);
        }
        finally
        {
            foreach (var certificate in certificates)
            {
                certificate.Dispose();
            }
        }
    }

    /// <summary>An issued certificate that renewal replaces in place: the next connection presents the new one.</summary>
    internal sealed class IssuedCertificateAuthentication : HubAuthentication
    {
        private readonly Lock _lock = new();
        private readonly List<IDisposable> _retired = [];
        private SslStreamCertificateContext? _context;
        private X509Certificate2? _leaf;

        internal override SslStreamCertificateContext ClientCertificate
        {
            get
            {
                lock (_lock)
                {
                    return _context!;
                }
            }
        }

        internal override bool UsesSasToken => false;

        internal override IEnumerable<string> ExtraSubscriptions => [CredentialsResponsePrefix + "#"];

        internal override string HubApiVersion => "2025-08-01-preview";

        /// <summary>The current chain (base64 DER, leaf first).</summary>
        public IReadOnlyList<string> Chain { get; private set; } = [];

        /// <summary>The current key.</summary>
        public CertificateSigningKey? Key { get; private set; }

        public DateTimeOffset NotBefore { get; private set; }

        public DateTimeOffset NotAfter { get; private set; }

        /// <summary>The leaf's common name (what a renewal request asks for again).</summary>
        public string CommonName { get; private set; } = "";

        /// <summary>Replaces the credential; the old one is kept until disposal (a TLS session may still hold it).</summary>
        public void Swap(IReadOnlyList<string> chain, CertificateSigningKey key)
        {
            var (context, leaf, intermediates) = BuildCredential(chain, key);
            lock (_lock)
            {
                if (_leaf is not null)
                {
                    _retired.Add(_leaf);
                }

                _context = context;
                _leaf = leaf;
                _retired.AddRange(intermediates.Cast<IDisposable>());
                Chain = [.. chain];
                Key = key;
                NotBefore = new DateTimeOffset(leaf.NotBefore.ToUniversalTime());
                NotAfter = new DateTimeOffset(leaf.NotAfter.ToUniversalTime());
                CommonName = leaf.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                lock (_lock)
                {
                    _leaf?.Dispose();
                    foreach (var item in _retired)
                    {
                        item.Dispose();
                    }

                    _retired.Clear();
                }
            }

            base.Dispose(disposing);
        }
    }

    /// <summary><c>$iothub/credentials/res/</c>.</summary>
    internal const string CredentialsResponsePrefix = "$iothub/credentials/res/";
}

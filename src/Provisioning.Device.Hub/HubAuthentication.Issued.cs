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

    /// <summary>Authenticates with an issued chain (base64 DER, leaf first) and the key of its leaf.</summary>
    internal static HubAuthentication FromIssuedCertificate(IReadOnlyList<string> chain, CertificateSigningKey key)
    {
        var certificates = new List<X509Certificate2>(chain.Count);
        try
        {
            foreach (string text in chain)
            {
                certificates.Add(X509CertificateLoader.LoadCertificate(Convert.FromBase64String(text)));
            }

            if (!key.Matches(certificates[0]))
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

                var context = SslStreamCertificateContext.Create(leaf, intermediates, offline: true);
                return new IssuedCertificateAuthentication(context, leaf, intermediates);
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

    private sealed class IssuedCertificateAuthentication(SslStreamCertificateContext context, X509Certificate2 leaf, X509Certificate2Collection intermediates)
        : HubAuthentication
    {
        internal override SslStreamCertificateContext ClientCertificate => context;

        internal override bool UsesSasToken => false;

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                leaf.Dispose();
                foreach (var certificate in intermediates)
                {
                    certificate.Dispose();
                }
            }

            base.Dispose(disposing);
        }
    }
}

using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Device;

/// <summary>
/// X.509 attestation: the device certificate and its chain are presented in the TLS handshake; requests carry no
/// <c>Authorization</c> header (dps-protocol.md §4).
/// </summary>
/// <remarks>
/// The chain goes into an <see cref="SslStreamCertificateContext"/>, so intermediates reach the service without any
/// certificate store being written (unlike the official SDK's installer, §4).
/// </remarks>
public sealed class X509Attestation : ProvisioningAttestation
{
    private readonly string _registrationId;
    private readonly SslStreamCertificateContext _context;

    /// <summary>Creates the attestation.</summary>
    /// <param name="certificate">The device certificate, with its private key.</param>
    /// <param name="chain">Intermediate certificates to present after the leaf (for group enrollments), if any.</param>
    /// <param name="registrationId">
    /// The registration id; default the certificate's first DNS subject alternative name, else its common name (§4).
    /// </param>
    /// <exception cref="ArgumentException">The certificate has no private key, or no name to register with.</exception>
    public X509Attestation(X509Certificate2 certificate, X509Certificate2Collection? chain = null, string? registrationId = null)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!certificate.HasPrivateKey)
        {
            throw new ArgumentException("The device certificate must carry its private key.", nameof(certificate));
        }

        _registrationId = registrationId ?? certificate.GetNameInfo(X509NameType.DnsName, forIssuer: false);
        if (string.IsNullOrEmpty(_registrationId))
        {
            throw new ArgumentException("The certificate has no DNS name or common name to use as the registration id.", nameof(certificate));
        }

        Certificate = certificate;
        // offline: the chain is what the caller gave, never fetched over the network.
        _context = SslStreamCertificateContext.Create(certificate, chain, offline: true);
    }

    /// <summary>The device certificate.</summary>
    public X509Certificate2 Certificate { get; }

    /// <inheritdoc/>
    public override bool CanCreateSasTokens => false;

    /// <inheritdoc/>
    public override SslStreamCertificateContext ClientCertificateContext => _context;

    /// <inheritdoc/>
    public override ValueTask<string> GetRegistrationIdAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(_registrationId);

    internal override ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("X.509 attestation has no signing key.");
}

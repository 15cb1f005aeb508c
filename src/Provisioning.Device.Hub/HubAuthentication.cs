using System.Net.Security;
using System.Security.Cryptography;
using Provisioning.Device.Hub.Mqtt;

namespace Provisioning.Device.Hub;

/// <summary>How a device proves itself to its hub: a SAS token signed with a symmetric key or by a signer (a TPM), or a
/// TLS client certificate.</summary>
/// <remarks>dps-protocol.md §8 (password: SAS token, or none for X.509). Dispose it with the client to zero a held key.</remarks>
public abstract partial class HubAuthentication : IDisposable
{
    private protected HubAuthentication()
    {
    }

    /// <summary>Authenticates with SAS tokens signed in-process with a symmetric key (the device's primary key).</summary>
    /// <param name="key">The raw key bytes (decoded from base64); copied.</param>
    public static HubAuthentication FromSymmetricKey(ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty)
        {
            throw new ArgumentException("The key is empty.", nameof(key));
        }

        return new SymmetricKeyAuthentication(new SymmetricKeySigner(key));
    }

    /// <summary>Authenticates with SAS tokens whose HMAC-SHA256 another party computes — for a TPM, inside the TPM with the
    /// hub identity key.</summary>
    /// <param name="signer">Returns HMAC-SHA256(key, data) for the data given.</param>
    public static HubAuthentication FromSigner(Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask<byte[]>> signer)
    {
        ArgumentNullException.ThrowIfNull(signer);
        return new SignerAuthentication(signer);
    }

    /// <summary>Authenticates with a TLS client certificate (with its key and, optionally, its chain).</summary>
    public static HubAuthentication FromCertificate(SslStreamCertificateContext certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        if (!certificate.TargetCertificate.HasPrivateKey)
        {
            throw new ArgumentException("The device certificate needs its private key.", nameof(certificate));
        }

        return new CertificateAuthentication(certificate);
    }

    /// <summary>Authenticates as the attestation that registered the device: TPM and symmetric-key attestations sign the
    /// hub's SAS tokens themselves (a TPM inside the TPM, with the identity key activated on <c>assigned</c>); an X.509
    /// attestation presents its client certificate and chain.</summary>
    /// <param name="attestation">The attestation; owned by the caller, who keeps it alive (undisposed) while the client runs.</param>
    /// <exception cref="ArgumentException">The attestation neither signs tokens nor has a client certificate.</exception>
    /// <remarks>dps-protocol.md §8: the token's resource is <c>{hub}/devices/{UrlEncode(deviceId)}</c>, URL-encoded again as
    /// <c>sr</c>, without <c>skn</c>.</remarks>
    public static HubAuthentication FromAttestation(ProvisioningAttestation attestation)
    {
        ArgumentNullException.ThrowIfNull(attestation);
        if (attestation.CanCreateSasTokens)
        {
            return new AttestationAuthentication(attestation);
        }

        return attestation.ClientCertificateContext is { } certificate
            ? FromCertificate(certificate)
            : throw new ArgumentException("The attestation neither signs SAS tokens nor presents a client certificate.", nameof(attestation));
    }

    /// <summary>The client certificate to present, for X.509.</summary>
    internal virtual SslStreamCertificateContext? ClientCertificate => null;

    /// <summary>Whether the password is a SAS token.</summary>
    internal virtual bool UsesSasToken => true;

    /// <summary>Computes HMAC-SHA256 over the string to sign.</summary>
    internal virtual ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("This authentication does not sign SAS tokens.");

    /// <summary>The MQTT password: a device SAS token for the hub and device, expiring at <paramref name="expiresAt"/>.</summary>
    internal virtual ValueTask<string> CreateSasTokenAsync(string hubHostName, string deviceId, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
        SasToken.CreateAsync(SignAsync, SasToken.HubResource(hubHostName, deviceId), expiresAt, keyName: null, cancellationToken);

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases held secrets.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    private sealed class SymmetricKeyAuthentication(SymmetricKeySigner key) : HubAuthentication
    {
        // Held for the life of the client because every renewal signs again; zeroed on dispose.
        internal override ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
            key.SignAsync(data, cancellationToken);

        protected override void Dispose(bool disposing)
        {
            key.Dispose();
            base.Dispose(disposing);
        }
    }

    private sealed class SignerAuthentication(Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask<byte[]>> signer) : HubAuthentication
    {
        internal override async ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            var signature = await signer(data, cancellationToken).ConfigureAwait(false);
            if (signature.Length != HMACSHA256.HashSizeInBytes)
            {
                // The application's signer is wrong: refused as a hub refusal would be, not retried forever.
                CryptographicOperations.ZeroMemory(signature);
                throw new HubException($"The signer returned {signature.Length} bytes; HMAC-SHA256 has {HMACSHA256.HashSizeInBytes}.");
            }

            return signature;
        }
    }

    private sealed class AttestationAuthentication(ProvisioningAttestation attestation) : HubAuthentication
    {
        // The attestation builds the whole token: its key (a TPM's above all) never leaves it.
        internal override ValueTask<string> CreateSasTokenAsync(string hubHostName, string deviceId, DateTimeOffset expiresAt, CancellationToken cancellationToken) =>
            attestation.CreateSasTokenAsync(SasToken.HubResource(hubHostName, deviceId), expiresAt, keyName: null, cancellationToken);
    }

    private sealed class CertificateAuthentication(SslStreamCertificateContext certificate) : HubAuthentication
    {
        internal override SslStreamCertificateContext ClientCertificate => certificate;

        internal override bool UsesSasToken => false;
    }
}

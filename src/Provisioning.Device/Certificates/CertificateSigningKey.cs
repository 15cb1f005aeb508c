using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Device;

/// <summary>The algorithm of a certificate key: what the certificate signing request carries (dps-protocol.md §9).</summary>
public enum CertificateKeyAlgorithm
{
    /// <summary>ECDSA on NIST P-256 with SHA-256 (the default).</summary>
    EccP256 = 0,

    /// <summary>RSA 2048-bit, PKCS#1 v1.5 signatures with SHA-256.</summary>
    Rsa2048 = 1,

    /// <summary>RSA 3072-bit, PKCS#1 v1.5 signatures with SHA-256.</summary>
    Rsa3072 = 2,
}

/// <summary>Where the private key of a device's issued certificate lives.</summary>
public enum CertificateKeyLocation
{
    /// <summary>In process memory, stored in a file readable by its owner only.</summary>
    Software = 0,

    /// <summary>Inside the TPM: created under the SRK and persisted there; the private key never leaves it.</summary>
    Tpm = 1,
}

/// <summary>
/// The private key of the certificate DPS issues to the device (api-version <c>2025-07-01-preview</c>, dps-protocol.md §9):
/// it signs the certificate signing request sent with the registration, then authenticates the device to its hub over TLS.
/// </summary>
/// <remarks>Set it as <see cref="ProvisioningRegistrationRequest.CertificateSigningKey"/>. The caller owns it and keeps it
/// alive while a hub client uses the certificate. See <see cref="SoftwareCertificateKey"/> and TpmCertificateKey.</remarks>
public abstract class CertificateSigningKey : IDisposable
{
    private protected CertificateSigningKey()
    {
    }

    /// <summary>The key's algorithm.</summary>
    public abstract CertificateKeyAlgorithm Algorithm { get; }

    /// <summary>Where the private key lives.</summary>
    public abstract CertificateKeyLocation Location { get; }

    /// <summary>The public key as a DER SubjectPublicKeyInfo (what a certificate for this key must carry).</summary>
    public abstract ReadOnlyMemory<byte> SubjectPublicKeyInfo { get; }

    /// <summary>Builds a base64-free DER PKCS#10 request with subject <c>CN={commonName}</c>, signed by this key.</summary>
    /// <param name="commonName">The common name: the registration id.</param>
    /// <param name="cancellationToken">Cancels the signature (a TPM command).</param>
    /// <returns>The DER bytes of the request.</returns>
    public ValueTask<byte[]> CreateSigningRequestAsync(string commonName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(commonName);
        return CertificateSigningRequestWriter.WriteAsync(this, commonName, cancellationToken);
    }

    /// <summary>Whether <paramref name="certificate"/> carries this key's public key.</summary>
    /// <param name="certificate">A certificate.</param>
    public bool Matches(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return certificate.PublicKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(SubjectPublicKeyInfo.Span);
    }

    /// <summary>Signs a SHA-256 digest: ECDSA as IEEE P1363 (r ‖ s), RSA as PKCS#1 v1.5.</summary>
    internal abstract ValueTask<byte[]> SignHashAsync(ReadOnlyMemory<byte> sha256Digest, CancellationToken cancellationToken);

    /// <summary>A copy of <paramref name="certificate"/> (which must carry this key's public key) bound to the private key,
    /// usable as a TLS client certificate.</summary>
    /// <exception cref="PlatformNotSupportedException">This platform cannot present the key to TLS.</exception>
    public abstract X509Certificate2 AttachTo(X509Certificate2 certificate);

    /// <summary>Removes the key from where it is stored: a TPM key is evicted, a key file deleted (an in-memory key has nothing
    /// to remove). A renewal with a new key calls it on the replaced key once the successor's certificate is stored.</summary>
    /// <param name="cancellationToken">Cancels the removal.</param>
    public virtual ValueTask RetireAsync(CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

    /// <summary>The key at the other location of this key's pair (TPM handle or key file) when one of this algorithm is
    /// stored there, or null: after an interrupted renewal, the key whose certificate the cache may hold.</summary>
    internal virtual ValueTask<CertificateSigningKey?> OpenAlternateAsync(CancellationToken cancellationToken) => ValueTask.FromResult<CertificateSigningKey?>(null);

    /// <inheritdoc />
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the key handle.</summary>
    /// <param name="disposing">Whether called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }

    /// <summary>RSA key size in bits for an algorithm (0 for ECC).</summary>
    private protected static int RsaBits(CertificateKeyAlgorithm algorithm) => algorithm switch
    {
        CertificateKeyAlgorithm.Rsa2048 => 2048,
        CertificateKeyAlgorithm.Rsa3072 => 3072,
        _ => 0,
    };

    /// <summary>Checks an algorithm value from a caller.</summary>
    private protected static void Validate(CertificateKeyAlgorithm algorithm, string paramName)
    {
        if (!Enum.IsDefined(algorithm))
        {
            throw new ArgumentOutOfRangeException(paramName, algorithm, "Unknown certificate key algorithm.");
        }
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

using Provisioning.Device.Tpm;

namespace Provisioning.Device;

/// <summary>
/// A certificate key inside the TPM: an unrestricted signing key created under the SRK by TPM2_Create and persisted at a
/// configurable handle; the certificate signing request is signed with TPM2_Sign and the private key never leaves the TPM.
/// </summary>
/// <remarks>
/// For TLS to the hub the key is opened through OpenSSL's provider interface: on Linux with the <c>tpm2-openssl</c> provider
/// (Debian package <c>tpm2-openssl</c>), which reaches the TPM through the TCTI derived from <see cref="TransportSpec"/>
/// (see <see cref="ProviderTcti"/>). Other platforms (and the in-process software TPM) can register and sign requests, but
/// cannot present the key to TLS: <see cref="PlatformNotSupportedException"/> says so.
/// </remarks>
public sealed class TpmCertificateKey : CertificateSigningKey
{
    private readonly TpmIdentity _tpm;
    private readonly byte[] _publicKey;

    private TpmCertificateKey(TpmIdentity tpm, uint handle, uint alternateHandle, CertificateKeyAlgorithm algorithm, byte[] tpm2bPublic, string? transportSpec)
    {
        _tpm = tpm;
        Handle = handle;
        AlternateHandle = alternateHandle;
        Algorithm = algorithm;
        TpmPublic = tpm2bPublic;
        TransportSpec = transportSpec;
        _publicKey = ToSubjectPublicKeyInfo(Provisioning.Device.Tpm.TpmPublic.FromTpm2B(tpm2bPublic));
    }

    /// <inheritdoc />
    public override CertificateKeyAlgorithm Algorithm { get; }

    /// <inheritdoc />
    public override CertificateKeyLocation Location => CertificateKeyLocation.Tpm;

    /// <inheritdoc />
    public override ReadOnlyMemory<byte> SubjectPublicKeyInfo => _publicKey;

    /// <summary>The persistent handle of the key.</summary>
    public uint Handle { get; }

    /// <summary>The other handle of the key's pair: where a renewal with a new key creates the successor, so this key stays
    /// usable until the successor's certificate is in place (<see cref="CreateSuccessorAsync"/>, <see cref="RetireAsync"/>).</summary>
    public uint AlternateHandle { get; }

    /// <summary>The key's TPM2B_PUBLIC as the TPM reported it (size prefix included).</summary>
    public ReadOnlyMemory<byte> TpmPublic { get; }

    /// <summary>The TPM transport spec (<c>device[:path]</c>, <c>swtpm:host:port</c>, <c>mssim:host:port</c>) the TLS provider
    /// reaches the TPM through, or <see langword="null"/> when only the CSR is signed here.</summary>
    public string? TransportSpec { get; }

    /// <summary>The OpenSSL provider key URI: <c>handle:0x81000102</c>.</summary>
    public string ProviderKeyUri => $"handle:0x{Handle:x8}";

    /// <summary>The <c>tpm2-openssl</c> TCTI configuration for <see cref="TransportSpec"/> (<c>swtpm:host=…,port=…</c>,
    /// <c>mssim:host=…,port=…</c>, <c>device:/dev/tpmrm0</c>), or <see langword="null"/> when it has none (software TPM).</summary>
    public string? ProviderTcti => TpmProviderKey.TctiFor(TransportSpec);

    /// <summary>Opens the key persisted at <paramref name="handle"/>, creating it under the SRK when absent (or of another
    /// algorithm). When <paramref name="handle"/> is empty and <paramref name="alternateHandle"/> holds a key of the algorithm
    /// (a renewal with a new key moved it there), that key is opened instead, with the pair swapped.</summary>
    /// <param name="tpm">The device's TPM; kept (not disposed) for signing.</param>
    /// <param name="algorithm">The algorithm; default ECC P-256.</param>
    /// <param name="handle">The persistent handle; default <see cref="TpmIdentity.DefaultCertificateKeyHandle"/>.</param>
    /// <param name="transportSpec">The spec <paramref name="tpm"/> was opened with, so TLS can reach the same TPM; null when the
    /// key only signs requests.</param>
    /// <param name="replace">Create a new key at <paramref name="handle"/> even when one of the algorithm is there.</param>
    /// <param name="alternateHandle">The other handle of the pair (renewal with a new key); default
    /// <paramref name="handle"/> + 1. It must differ from <paramref name="handle"/> and be a handle of ours.</param>
    /// <param name="cancellationToken">Cancels the TPM commands.</param>
    /// <exception cref="ArgumentException">A handle is outside the owner's persistent range, is the EK, SRK or identity key's,
    /// or the two handles are the same.</exception>
    /// <exception cref="TpmException">The TPM failed, or the handle holds an object that is not a signing key.</exception>
    public static async Task<TpmCertificateKey> OpenAsync(
        TpmIdentity tpm,
        CertificateKeyAlgorithm algorithm = CertificateKeyAlgorithm.EccP256,
        uint handle = TpmIdentity.DefaultCertificateKeyHandle,
        string? transportSpec = null,
        bool replace = false,
        uint? alternateHandle = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tpm);
        Validate(algorithm, nameof(algorithm));
        uint alternate = alternateHandle ?? handle + 1;
        // Both handles up front (range, and not the EK, SRK or identity key), not at the first renewal.
        tpm.CheckCertificateKeyHandle(handle);
        tpm.CheckCertificateKeyHandle(alternate);
        if (alternate == handle)
        {
            throw new ArgumentException($"The alternate handle 0x{alternate:X8} is the key's own handle.", nameof(alternateHandle));
        }

        TpmPublic template = Template(algorithm);
        if (!replace)
        {
            // A boot with its key in place: one read, nothing created (EnsureCertificateKeyAsync would read it again).
            byte[]? current = await tpm.ReadCertificateKeyAsync(handle, cancellationToken).ConfigureAwait(false);
            if (current is not null && Provisioning.Device.Tpm.TpmPublic.FromTpm2B(current).MatchesTemplate(template))
            {
                return new TpmCertificateKey(tpm, handle, alternate, algorithm, current, transportSpec);
            }

            // Nothing at the handle: a finished renewal may have moved the key to the alternate handle.
            if (current is null
                && await tpm.ReadCertificateKeyAsync(alternate, cancellationToken).ConfigureAwait(false) is { } moved
                && Provisioning.Device.Tpm.TpmPublic.FromTpm2B(moved).MatchesTemplate(template))
            {
                return new TpmCertificateKey(tpm, alternate, handle, algorithm, moved, transportSpec);
            }
        }

        byte[] persisted = await tpm.EnsureCertificateKeyAsync(handle, template, replace, cancellationToken).ConfigureAwait(false);
        return new TpmCertificateKey(tpm, handle, alternate, algorithm, persisted, transportSpec);
    }

    /// <summary>A new key of the same algorithm at <see cref="AlternateHandle"/> (renewal with a new key). This key is left in
    /// place: it keeps working until the successor's certificate is stored, then <see cref="RetireAsync"/> evicts it. Whatever
    /// certificate key an earlier, unfinished renewal left at the alternate handle is replaced.</summary>
    /// <param name="cancellationToken">Cancels the TPM commands.</param>
    public async Task<TpmCertificateKey> CreateSuccessorAsync(CancellationToken cancellationToken)
    {
        byte[] persisted = await _tpm.EnsureCertificateKeyAsync(AlternateHandle, Template(Algorithm), replace: true, cancellationToken).ConfigureAwait(false);
        return new TpmCertificateKey(_tpm, AlternateHandle, Handle, Algorithm, persisted, TransportSpec);
    }

    /// <summary>Evicts this key from the TPM, if it is still the key persisted at <see cref="Handle"/>.</summary>
    /// <param name="cancellationToken">Cancels the TPM commands.</param>
    /// <exception cref="TpmException">The TPM failed.</exception>
    public override async ValueTask RetireAsync(CancellationToken cancellationToken = default) =>
        await _tpm.EvictCertificateKeyAsync(Handle, TpmPublic, cancellationToken).ConfigureAwait(false);

    /// <summary>The key persisted at <see cref="AlternateHandle"/>, when it is a key of this algorithm (the successor of a renewal
    /// that stored its certificate but did not retire this key), or null.</summary>
    internal override async ValueTask<CertificateSigningKey?> OpenAlternateAsync(CancellationToken cancellationToken) =>
        await _tpm.ReadCertificateKeyAsync(AlternateHandle, cancellationToken).ConfigureAwait(false) is { } other
        && Provisioning.Device.Tpm.TpmPublic.FromTpm2B(other).MatchesTemplate(Template(Algorithm))
            ? new TpmCertificateKey(_tpm, AlternateHandle, Handle, Algorithm, other, TransportSpec)
            : null;

    private static TpmPublic Template(CertificateKeyAlgorithm algorithm) => algorithm == CertificateKeyAlgorithm.EccP256
        ? TpmTemplates.EccP256SigningKey
        : TpmTemplates.RsaSigningKey((ushort)RsaBits(algorithm));

    internal override async ValueTask<byte[]> SignHashAsync(ReadOnlyMemory<byte> sha256Digest, CancellationToken cancellationToken) =>
        await _tpm.SignWithCertificateKeyAsync(Handle, sha256Digest, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    public override X509Certificate2 AttachTo(X509Certificate2 certificate) => TpmProviderKey.Attach(certificate, this);

    /// <summary>The DER SubjectPublicKeyInfo of an RSA or ECC P-256 TPM public area.</summary>
    internal static byte[] ToSubjectPublicKeyInfo(TpmPublic key)
    {
        if (key.Type == TpmAlgorithm.Ecc)
        {
            if (key.CurveId != TpmTemplates.NistP256 || key.EccX.Length != 32 || key.EccY.Length != 32)
            {
                throw new TpmFormatException("The TPM key is not an ECC P-256 key with 32-byte coordinates.");
            }

            using var ecdsa = ECDsa.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = key.EccX.ToArray(), Y = key.EccY.ToArray() },
            });
            return ecdsa.ExportSubjectPublicKeyInfo();
        }

        if (key.Type == TpmAlgorithm.Rsa && key.Unique.Length == key.KeyBits / 8)
        {
            uint exponent = key.Exponent == 0 ? 65537u : key.Exponent;
            byte[] e = [(byte)(exponent >> 24), (byte)(exponent >> 16), (byte)(exponent >> 8), (byte)exponent];
            using var rsa = RSA.Create(new RSAParameters { Modulus = key.Unique.ToArray(), Exponent = e.AsSpan(e.AsSpan().IndexOfAnyExcept((byte)0)).ToArray() });
            return rsa.ExportSubjectPublicKeyInfo();
        }

        throw new TpmFormatException("The TPM key is neither ECC P-256 nor RSA with a full-length modulus.");
    }
}

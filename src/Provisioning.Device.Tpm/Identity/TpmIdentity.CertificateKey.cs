using System.Security.Cryptography;

using Microsoft.Extensions.Logging;

namespace Provisioning.Device.Tpm;

/// <summary>Certificate keys: an unrestricted signing key created under the SRK and persisted, whose private part never
/// leaves the TPM; it signs the device's certificate signing request (dps-protocol.md §9).</summary>
public sealed partial class TpmIdentity
{
    /// <summary>The default persistent handle of the certificate key (owner range, beside the identity key 0x81000100).</summary>
    public const uint DefaultCertificateKeyHandle = 0x8100_0102;

    /// <summary>The default alternate handle of the certificate key (<see cref="DefaultCertificateKeyHandle"/> + 1): a renewal
    /// with a new key creates it at the handle of the pair the current key does not use, so the current key stays until the new
    /// certificate is in place.</summary>
    public const uint DefaultCertificateKeyAlternateHandle = 0x8100_0103;

    /// <summary>
    /// Makes sure a signing key of <paramref name="template"/>'s kind is persisted at <paramref name="handle"/>: reuses one
    /// that matches the template, otherwise creates it under the SRK (TPM2_Create, Load, EvictControl) and persists it.
    /// </summary>
    /// <param name="handle">A persistent handle (0x81000000–0x817FFFFF) other than the EK, SRK and identity key handles.</param>
    /// <param name="template">The key template, e.g. <see cref="TpmTemplates.EccP256SigningKey"/>.</param>
    /// <param name="replace">Evict a signing key already at the handle and create a new one (renewal with a new key).</param>
    /// <param name="cancellationToken">Cancels the TPM commands.</param>
    /// <returns>The persisted key's TPM2B_PUBLIC, size prefix included.</returns>
    /// <exception cref="ArgumentException">The handle is not a free persistent handle of ours, or the template is not an
    /// unrestricted signing key.</exception>
    /// <exception cref="TpmException">The TPM failed, or the handle holds an object that is not a signing key (left in place).</exception>
    public async ValueTask<byte[]> EnsureCertificateKeyAsync(uint handle, TpmPublic template, bool replace = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(template);
        CheckCertificateKeyHandle(handle);
        if (!IsCertificateKey(template) || template.Type is not (TpmAlgorithm.Ecc or TpmAlgorithm.Rsa))
        {
            throw new ArgumentException("The template is not an unrestricted RSA or ECC signing key.", nameof(template));
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var activity = ActivitySource.StartActivity("TpmIdentity.EnsureCertificateKey");
            await EnsureKeysCoreAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                var existing = await _tpm.ReadPublicAsync(handle, cancellationToken).ConfigureAwait(false);
                if (!IsCertificateKey(existing.Public))
                {
                    throw new TpmException(
                        $"The object persisted at 0x{handle:X8} is not a signing key (type 0x{(ushort)existing.Public.Type:X4}, attributes 0x{(uint)existing.Public.Attributes:X8}). "
                        + "It was left in place; configure another certificate key handle.");
                }

                if (!replace && existing.Public.MatchesTemplate(template))
                {
                    return existing.Tpm2BPublic;
                }

                // A signing key of another kind (or one to renew): evicted, since only certificate keys are signing keys here.
                await _tpm.EvictControlAsync(TpmHandles.Owner, _options.OwnerAuth, handle, handle, cancellationToken).ConfigureAwait(false);
            }
            catch (TpmException e) when (IsAbsent(e))
            {
            }

            LogCreating(_logger, "certificate key", handle, null);
            var (outPrivate, outPublic) = await _tpm.CreateAsync(_options.StorageRootKeyHandle, default, template, cancellationToken).ConfigureAwait(false);
            // Load, persist and flush are not cancelled (each command has its deadline): a Load cancelled after the TPM ran it
            // leaves a transient object nobody knows the handle of, which a TPM without a resource manager (swtpm, /dev/tpm0)
            // keeps in one of its few object slots.
            var loaded = await _tpm.LoadAsync(_options.StorageRootKeyHandle, default, outPrivate, outPublic.AsMemory(2), CancellationToken.None).ConfigureAwait(false);
            try
            {
                await _tpm.EvictControlAsync(TpmHandles.Owner, _options.OwnerAuth, loaded, handle, CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                await FlushAsync(loaded).ConfigureAwait(false);
            }

            cancellationToken.ThrowIfCancellationRequested();

            var persisted = await _tpm.ReadPublicAsync(handle, cancellationToken).ConfigureAwait(false);
            if (!persisted.Tpm2BPublic.AsSpan().SequenceEqual(outPublic))
            {
                throw new TpmException($"The key read back from 0x{handle:X8} is not the key just created.");
            }

            return persisted.Tpm2BPublic;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Evicts the certificate key persisted at <paramref name="handle"/> when it is the key whose public area is
    /// <paramref name="expectedPublic"/> (a renewal retiring the key its successor replaced); anything else there is left alone.</summary>
    /// <param name="handle">The persistent handle.</param>
    /// <param name="expectedPublic">The key's TPM2B_PUBLIC (size prefix included), as <see cref="EnsureCertificateKeyAsync"/> returned it.</param>
    /// <param name="cancellationToken">Cancels the TPM commands.</param>
    /// <returns>Whether the key was evicted (false: nothing, or another object, was at the handle).</returns>
    /// <exception cref="TpmException">The TPM failed.</exception>
    public async ValueTask<bool> EvictCertificateKeyAsync(uint handle, ReadOnlyMemory<byte> expectedPublic, CancellationToken cancellationToken = default)
    {
        CheckCertificateKeyHandle(handle);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var activity = ActivitySource.StartActivity("TpmIdentity.EvictCertificateKey");
            try
            {
                var existing = await _tpm.ReadPublicAsync(handle, cancellationToken).ConfigureAwait(false);
                if (!IsCertificateKey(existing.Public) || !existing.Tpm2BPublic.AsSpan().SequenceEqual(expectedPublic.Span))
                {
                    return false;
                }
            }
            catch (TpmException e) when (IsAbsent(e))
            {
                return false;
            }

            await _tpm.EvictControlAsync(TpmHandles.Owner, _options.OwnerAuth, handle, handle, cancellationToken).ConfigureAwait(false);
            return true;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Reads the public area of the key persisted at <paramref name="handle"/>.</summary>
    /// <returns>The TPM2B_PUBLIC, size prefix included, or null when nothing is persisted there.</returns>
    public async ValueTask<byte[]?> ReadCertificateKeyAsync(uint handle, CancellationToken cancellationToken = default)
    {
        CheckCertificateKeyHandle(handle);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            try
            {
                var existing = await _tpm.ReadPublicAsync(handle, cancellationToken).ConfigureAwait(false);
                return IsCertificateKey(existing.Public) ? existing.Tpm2BPublic : null;
            }
            catch (TpmException e) when (IsAbsent(e))
            {
                return null;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Signs a SHA-256 digest with the key persisted at <paramref name="handle"/> (TPM2_Sign): ECDSA as IEEE P1363
    /// (r ‖ s, 32 bytes each), RSA as PKCS#1 v1.5 (RSASSA).</summary>
    /// <exception cref="TpmException">The TPM failed, or nothing signs at that handle.</exception>
    public async ValueTask<byte[]> SignWithCertificateKeyAsync(uint handle, ReadOnlyMemory<byte> sha256Digest, CancellationToken cancellationToken = default)
    {
        CheckCertificateKeyHandle(handle);
        if (sha256Digest.Length != SHA256.HashSizeInBytes)
        {
            throw new ArgumentException("The digest is not a SHA-256 digest.", nameof(sha256Digest));
        }

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var activity = ActivitySource.StartActivity("TpmIdentity.SignWithCertificateKey");
            var key = await _tpm.ReadPublicAsync(handle, cancellationToken).ConfigureAwait(false);
            if (!IsCertificateKey(key.Public))
            {
                throw new TpmException($"The object at 0x{handle:X8} is not a signing key.");
            }

            bool ecc = key.Public.Type == TpmAlgorithm.Ecc;
            var signature = await _tpm.SignAsync(handle, default, sha256Digest, ecc ? TpmAlgorithm.Ecdsa : TpmAlgorithm.RsaSsa, TpmAlgorithm.Sha256, cancellationToken).ConfigureAwait(false);
            if (!ecc)
            {
                if (signature.Signature.Length != key.Public.KeyBits / 8)
                {
                    throw new TpmFormatException($"TPM2_Sign returned {signature.Signature.Length} bytes for a {key.Public.KeyBits}-bit key.");
                }

                return signature.Signature;
            }

            int size = key.Public.EccX.Length;
            if (signature.R.Length > size || signature.S.Length > size)
            {
                throw new TpmFormatException($"TPM2_Sign returned an ECDSA signature wider than the {size * 8}-bit curve.");
            }

            var p1363 = new byte[size * 2];
            signature.R.CopyTo(p1363, size - signature.R.Length);
            signature.S.CopyTo(p1363, (2 * size) - signature.S.Length);
            return p1363;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Checks that <paramref name="handle"/> can hold a certificate key: in the owner's persistent range, and not the EK,
    /// SRK or identity key handle of these options.</summary>
    /// <param name="handle">The persistent handle.</param>
    /// <exception cref="ArgumentException">It cannot.</exception>
    public void CheckCertificateKeyHandle(uint handle)
    {
        if (handle is < 0x8100_0000 or > 0x817F_FFFF)
        {
            throw new ArgumentOutOfRangeException(nameof(handle), $"0x{handle:X8} is not in the owner's persistent range 0x81000000–0x817FFFFF.");
        }

        if (handle == _options.EndorsementKeyHandle || handle == _options.StorageRootKeyHandle || handle == _options.IdentityKeyHandle)
        {
            throw new ArgumentException($"0x{handle:X8} is the EK, SRK or identity key handle.", nameof(handle));
        }
    }

    private static bool IsCertificateKey(TpmPublic key) =>
        key.Attributes.HasFlag(TpmObjectAttributes.Sign)
        && !key.Attributes.HasFlag(TpmObjectAttributes.Restricted)
        && !key.Attributes.HasFlag(TpmObjectAttributes.Decrypt);
}

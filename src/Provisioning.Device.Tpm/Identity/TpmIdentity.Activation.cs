using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>Activation of the DPS identity key (dps-protocol.md §2.3).</summary>
public sealed partial class TpmIdentity
{
    /// <summary>The size of the inner-wrapper key: Import always uses AES-128-CFB.</summary>
    private const int InnerKeySize = 16;

    /// <summary>Activates the identity key in a DPS <c>authenticationKey</c> blob and persists it, replacing an earlier one.</summary>
    /// <remarks>
    /// dps-protocol.md §2.3: PolicySecret(endorsement) session → ActivateCredential(SRK, EK) recovers the inner-wrapper key →
    /// Import under the SRK → Load → EvictControl to the identity handle. The earlier identity key is evicted only once the
    /// new one has loaded, so a refused blob leaves it working. The recovered key is zeroed before this returns.
    /// </remarks>
    /// <param name="authenticationKey">The raw blob (base64-decoded).</param>
    /// <param name="cancellationToken">Cancels the activation.</param>
    /// <exception cref="TpmFormatException">The blob is not the six-part container.</exception>
    /// <exception cref="TpmException">The TPM refused the blob (e.g. TPM_RC_INTEGRITY: made for another TPM or altered).</exception>
    public async ValueTask ActivateIdentityKeyAsync(ReadOnlyMemory<byte> authenticationKey, CancellationToken cancellationToken = default)
    {
        var blob = ActivationBlob.Parse(authenticationKey);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var activity = ActivitySource.StartActivity("TpmIdentity.ActivateIdentityKey");
            await EnsureKeysCoreAsync(cancellationToken).ConfigureAwait(false);
            var inPrivate = await ImportAsync(blob, cancellationToken).ConfigureAwait(false);
            var loaded = await _tpm.LoadAsync(_options.StorageRootKeyHandle, default, inPrivate, blob.ObjectPublic, cancellationToken).ConfigureAwait(false);
            try
            {
                await PersistIdentityKeyAsync(loaded, cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                await FlushAsync(loaded).ConfigureAwait(false);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Recovers the inner-wrapper key with ActivateCredential and imports the identity key with it.</summary>
    private async ValueTask<byte[]> ImportAsync(ActivationBlob blob, CancellationToken cancellationToken)
    {
        byte[]? innerKey = null;
        try
        {
            var session = await _tpm.StartAuthSessionAsync(TpmSessionType.Policy, TpmAlgorithm.Sha256, cancellationToken).ConfigureAwait(false);
            var sessionEnded = false;
            try
            {
                try
                {
                    await _tpm.PolicySecretAsync(TpmHandles.Endorsement, _options.EndorsementAuth, session, cancellationToken).ConfigureAwait(false);
                }
                catch (TpmException e) when (IsBadAuth(e))
                {
                    throw HierarchyRefused(e, TpmHandles.Endorsement);
                }

                // The session ends with the command (continueSession clear): no FlushContext when it succeeds.
                innerKey = await _tpm.ActivateCredentialEndingSessionAsync(
                    _options.StorageRootKeyHandle, default, _options.EndorsementKeyHandle, session, blob.CredentialBlob, blob.Secret, cancellationToken).ConfigureAwait(false);
                sessionEnded = true;
            }
            finally
            {
                if (!sessionEnded)
                {
                    await FlushAsync(session).ConfigureAwait(false);
                }
            }

            if (innerKey.Length != InnerKeySize)
            {
                throw new TpmException($"The credential in the blob is {innerKey.Length} bytes; DPS sends a {InnerKeySize}-byte AES-128 inner key.");
            }

            return await _tpm.ImportAsync(
                _options.StorageRootKeyHandle, default, innerKey, blob.ObjectPublic, blob.Duplicate, blob.InSymSeed, TpmSymmetricDefinition.Aes128Cfb, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (innerKey is not null)
            {
                CryptographicOperations.ZeroMemory(innerKey);
            }
        }
    }

    /// <summary>Evicts the earlier identity key, if any, and persists the loaded one in its place.</summary>
    private async ValueTask PersistIdentityKeyAsync(uint loaded, CancellationToken cancellationToken)
    {
        var handle = _options.IdentityKeyHandle;
        try
        {
            // Evict whatever is at the handle; nothing there is fine. One command either way, where reading first took two
            // when a key was there (always, from the second activation on).
            try
            {
                await _tpm.EvictControlAsync(TpmHandles.Owner, _options.OwnerAuth, handle, handle, cancellationToken).ConfigureAwait(false);
            }
            catch (TpmException e) when (IsAbsent(e))
            {
                // No earlier identity key.
            }

            await _tpm.EvictControlAsync(TpmHandles.Owner, _options.OwnerAuth, loaded, handle, cancellationToken).ConfigureAwait(false);
        }
        catch (TpmException e) when (IsBadAuth(e))
        {
            throw HierarchyRefused(e, TpmHandles.Owner);
        }
    }
}

using System.Text.Json;
using Provisioning.Device.Tpm;

namespace Provisioning.Device;

/// <summary>
/// TPM attestation: the service challenges with an activation blob that only this TPM can open; the identity key it
/// carries then signs the SAS tokens for DPS and for the hub (dps-protocol.md §1.4, §2).
/// </summary>
/// <remarks>
/// The first registration request carries the EK and SRK and no <c>Authorization</c>; the 401 challenge's blob is
/// activated and the request re-sent with a SAS; the blob that arrives with <c>assigned</c> is activated again before
/// the result is returned (§1.6). EK and SRK are public keys and are kept; blobs are zeroed after use.
/// </remarks>
public sealed class TpmAttestation : ProvisioningAttestation
{
    private readonly ITpmDevice _tpm;
    private readonly string? _registrationId;
    private byte[]? _endorsementKey;
    private byte[]? _storageRootKey;

    /// <summary>Attests with the TPM behind <paramref name="identity"/>; the caller keeps ownership of it.</summary>
    /// <param name="identity">The TPM identity (any transport: device, swtpm, mssim, software).</param>
    /// <param name="registrationId">The registration id; by default the EK-derived one (dps-protocol.md §2.5).</param>
    public TpmAttestation(TpmIdentity identity, string? registrationId = null)
        : this(new TpmIdentityDevice(identity ?? throw new ArgumentNullException(nameof(identity))), registrationId)
    {
    }

    internal TpmAttestation(ITpmDevice tpm, string? registrationId = null)
    {
        ArgumentNullException.ThrowIfNull(tpm);
        if (registrationId is not null)
        {
            ArgumentException.ThrowIfNullOrEmpty(registrationId);
        }

        _tpm = tpm;
        _registrationId = registrationId;
    }

    /// <summary>The registration id given at construction, or else the EK-derived one (§2.5).</summary>
    /// <param name="cancellationToken">Cancels the TPM call.</param>
    public override async ValueTask<string> GetRegistrationIdAsync(CancellationToken cancellationToken = default) =>
        _registrationId ?? await _tpm.GetRegistrationIdAsync(cancellationToken).ConfigureAwait(false);

    internal override bool RequiresChallenge => true;

    internal override async ValueTask WriteRequestBodyAsync(Utf8JsonWriter writer, CancellationToken cancellationToken)
    {
        (byte[] endorsementKey, byte[] storageRootKey) = (await GetTpmPublicKeysAsync(cancellationToken).ConfigureAwait(false))!.Value;
        writer.WriteStartObject("tpm");
        writer.WriteBase64String("endorsementKey", endorsementKey);
        writer.WriteBase64String("storageRootKey", storageRootKey);
        writer.WriteEndObject();
    }

    /// <summary>The EK and SRK, read from the TPM once: public keys, kept for the body and the AMQP SASL init (§2.2, §6).</summary>
    internal override async ValueTask<(byte[] EndorsementKey, byte[] StorageRootKey)?> GetTpmPublicKeysAsync(CancellationToken cancellationToken)
    {
        _endorsementKey ??= await _tpm.GetEndorsementKeyAsync(cancellationToken).ConfigureAwait(false);
        _storageRootKey ??= await _tpm.GetStorageRootKeyAsync(cancellationToken).ConfigureAwait(false);
        return (_endorsementKey, _storageRootKey);
    }

    internal override async ValueTask<bool> AnswerChallengeAsync(ReadOnlyMemory<byte> authenticationKey, CancellationToken cancellationToken)
    {
        await ActivateAsync(authenticationKey, "the challenge's authenticationKey", cancellationToken).ConfigureAwait(false);
        return true;
    }

    internal override async ValueTask OnAssignedAsync(AssignedCredentials credentials, CancellationToken cancellationToken)
    {
        if (credentials.TpmAuthenticationKey is not { } key)
        {
            throw ProvisioningException.Malformed("the registration", "an assigned TPM registration lacks registrationState.tpm.authenticationKey");
        }

        await ActivateAsync(key, "registrationState.tpm.authenticationKey", cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Activates a blob; a blob the TPM rejects (malformed, or not made for this EK and SRK) is a non-transient
    /// provisioning error whose inner exception is the TPM's, with its response code.
    /// </summary>
    private async ValueTask ActivateAsync(ReadOnlyMemory<byte> blob, string field, CancellationToken cancellationToken)
    {
        try
        {
            await _tpm.ActivateIdentityKeyAsync(blob, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not ProvisioningException)
        {
            throw new ProvisioningException(
                $"The TPM could not activate {field} sent by the provisioning service: {ex.Message}", isTransient: false, innerException: ex);
        }
    }

    internal override ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        _tpm.SignAsync(data, cancellationToken);
}

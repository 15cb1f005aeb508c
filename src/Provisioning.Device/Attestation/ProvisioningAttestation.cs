using System.Net.Security;
using System.Text.Json;

namespace Provisioning.Device;

/// <summary>
/// How a device proves its identity: TPM, symmetric key or X.509. Transports use only the members of this class and
/// never ask which kind they hold.
/// </summary>
/// <remarks>
/// The hooks follow dps-protocol.md: the request body contribution (§1.3), the <c>Authorization</c> SAS (§1.2, §2.4,
/// §3), the TPM 401 challenge (§1.4), the key that arrives with <c>assigned</c> (§1.6) and the TLS client certificate
/// (§4). The same attestation signs the hub's SAS tokens (§8) through <see cref="CreateSasTokenAsync"/>.
/// Only this assembly derives from it.
/// </remarks>
public abstract class ProvisioningAttestation : IDisposable
{
    private protected ProvisioningAttestation()
    {
    }

    /// <summary>The <c>skn</c> of DPS SAS tokens (dps-protocol.md §2.4, §3).</summary>
    internal const string RegistrationKeyName = "registration";

    /// <summary>The registration id this attestation registers as.</summary>
    /// <param name="cancellationToken">Cancels the call (a TPM may be asked).</param>
    public abstract ValueTask<string> GetRegistrationIdAsync(CancellationToken cancellationToken = default);

    /// <summary>Whether <see cref="CreateSasTokenAsync"/> works: true for TPM and symmetric key, false for X.509.</summary>
    public virtual bool CanCreateSasTokens => true;

    /// <summary>
    /// The TLS client certificate with its chain, presented in the handshake (X.509), or <see langword="null"/>.
    /// </summary>
    public virtual SslStreamCertificateContext? ClientCertificateContext => null;

    /// <summary>
    /// Creates a SAS token <c>SharedAccessSignature sr=…&amp;sig=…&amp;se=…[&amp;skn=…]</c> signed with this
    /// attestation's key: the symmetric key, or the TPM identity key after activation. The hub client uses it with
    /// <c>{hub}/devices/{deviceId}</c> and no key name (dps-protocol.md §8).
    /// </summary>
    /// <param name="resource">The resource URI, unencoded (it is URL-encoded into <c>sr</c> and signed encoded).</param>
    /// <param name="expiresOn">The expiry, sent as Unix seconds in <c>se</c>.</param>
    /// <param name="keyName">The <c>skn</c>, or <see langword="null"/> for none.</param>
    /// <param name="cancellationToken">Cancels the signing (a TPM may be asked).</param>
    /// <exception cref="InvalidOperationException">The attestation has no signing key (X.509).</exception>
    public ValueTask<string> CreateSasTokenAsync(string resource, DateTimeOffset expiresOn, string? keyName = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(resource);
        if (!CanCreateSasTokens)
        {
            throw new InvalidOperationException("This attestation authenticates with a certificate and has no key to sign SAS tokens.");
        }

        return SasToken.CreateAsync(this, resource, expiresOn, keyName, cancellationToken);
    }

    /// <summary>HMAC-SHA256 of <paramref name="data"/> with the attestation's key; the caller zeroes the result.</summary>
    internal abstract ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    /// <summary>
    /// Whether the service must challenge first (TPM, §1.4): the first request then goes without <c>Authorization</c>.
    /// </summary>
    internal virtual bool RequiresChallenge => false;

    /// <summary>Writes this attestation's properties into the open request body object (TPM: <c>"tpm": {…}</c>).</summary>
    internal virtual ValueTask WriteRequestBodyAsync(Utf8JsonWriter writer, CancellationToken cancellationToken) => default;

    /// <summary>
    /// The <c>Authorization</c> header value for DPS, or <see langword="null"/> when this attestation sends none
    /// (X.509). Called before the first request, and again after a challenge was answered.
    /// </summary>
    internal virtual async ValueTask<string?> GetAuthorizationAsync(string resource, DateTimeOffset expiresOn, CancellationToken cancellationToken) =>
        CanCreateSasTokens ? await CreateSasTokenAsync(resource, expiresOn, RegistrationKeyName, cancellationToken).ConfigureAwait(false) : null;

    /// <summary>
    /// Answers a 401 challenge that carried an activation blob (TPM: activate it in the TPM). The default refuses, and
    /// the 401 becomes an error.
    /// </summary>
    /// <returns>Whether the challenge was answered and the registration may be re-sent with a new authorization.</returns>
    internal virtual ValueTask<bool> AnswerChallengeAsync(ReadOnlyMemory<byte> authenticationKey, CancellationToken cancellationToken) =>
        ValueTask.FromResult(false);

    /// <summary>
    /// The TPM's public EK and SRK (<c>TPM2B_PUBLIC</c> with their size prefix, dps-protocol.md §2.2) for the AMQP TPM SASL
    /// exchange (§6), or <see langword="null"/> when this attestation is not a TPM's.
    /// </summary>
    internal virtual ValueTask<(byte[] EndorsementKey, byte[] StorageRootKey)?> GetTpmPublicKeysAsync(CancellationToken cancellationToken) =>
        ValueTask.FromResult<(byte[], byte[])?>(null);

    /// <summary>
    /// Takes what an <c>assigned</c> result carries for the attestation (TPM: re-activates the hub key) before the
    /// result is returned to the caller.
    /// </summary>
    internal virtual ValueTask OnAssignedAsync(AssignedCredentials credentials, CancellationToken cancellationToken) => default;

    /// <summary>Releases the key material this attestation holds.</summary>
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the key material this attestation holds.</summary>
    /// <param name="disposing">Whether called from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
    }
}

using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>Sessions and credentials: StartAuthSession, PolicySecret, ActivateCredential (Part 3 §11.1, §23.4, §12.5).</summary>
internal sealed partial class TpmCommands
{
    /// <summary>TPM2_StartAuthSession without salt or bind, no parameter encryption; returns the session handle (the caller flushes it).</summary>
    public async ValueTask<uint> StartAuthSessionAsync(TpmSessionType type, TpmAlgorithm hash, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.StartAuthSession, sessions: false);
        command.WriteUInt32(TpmHandles.Null); // tpmKey: unsalted
        command.WriteUInt32(TpmHandles.Null); // bind: unbound
        Span<byte> nonce = stackalloc byte[32]; // nonceCaller must be at least 16 bytes
        RandomNumberGenerator.Fill(nonce);
        command.WriteSized(nonce);
        command.WriteUInt16(0); // encryptedSalt
        command.WriteByte((byte)type);
        TpmSymmetricDefinition.None.Write(command);
        command.WriteUInt16((ushort)hash);
        var response = await SendAsync(command, TpmCommandCode.StartAuthSession, cancellationToken).ConfigureAwait(false);
        Span<uint> handle = stackalloc uint[1];
        var reader = OpenParameters(response, handle);
        reader.ReadSized(TpmConstants.MaxDigestSize, "TPM2B_NONCE nonceTPM");
        reader.EnsureAtEnd("TPM2_StartAuthSession response");
        return handle[0];
    }

    /// <summary>TPM2_PolicySecret(<paramref name="authHandle"/>) on a policy session, authorised by the entity's password.</summary>
    public async ValueTask PolicySecretAsync(uint authHandle, ReadOnlyMemory<byte> authValue, uint policySession, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.PolicySecret, sessions: true);
        command.WriteUInt32(authHandle);
        command.WriteUInt32(policySession);
        WriteAuthorizations(command, TpmAuthCommand.Password(authValue));
        command.WriteUInt16(0); // nonceTPM: not bound to the session nonce
        command.WriteUInt16(0); // cpHashA
        command.WriteUInt16(0); // policyRef
        command.WriteInt32(0);  // expiration: none, no ticket wanted
        await SendAsync(command, TpmCommandCode.PolicySecret, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>TPM2_ActivateCredential; returns the recovered credential, which the caller must zero.</summary>
    /// <param name="activateHandle">The object the credential is bound to by Name (the SRK).</param>
    /// <param name="activateAuth">Its password.</param>
    /// <param name="keyHandle">The key that decrypts the seed (the EK), authorised by <paramref name="keyPolicySession"/>.</param>
    /// <param name="keyPolicySession">A policy session satisfying the EK's policy.</param>
    /// <param name="credentialBlob">TPM2B_ID_OBJECT contents.</param>
    /// <param name="secret">TPM2B_ENCRYPTED_SECRET contents.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    public ValueTask<byte[]> ActivateCredentialAsync(
        uint activateHandle,
        ReadOnlyMemory<byte> activateAuth,
        uint keyHandle,
        uint keyPolicySession,
        ReadOnlyMemory<byte> credentialBlob,
        ReadOnlyMemory<byte> secret,
        CancellationToken cancellationToken = default)
        => ActivateCredentialCoreAsync(
            activateHandle, activateAuth, keyHandle, TpmAuthCommand.Policy(keyPolicySession), credentialBlob, secret, cancellationToken);

    /// <summary>As <see cref="ActivateCredentialAsync"/>, with continueSession clear: the TPM flushes the policy session when
    /// the command succeeds (Part 1 §19.6.17), which saves a TPM2_FlushContext; on failure the session stays and the caller
    /// flushes it.</summary>
    public ValueTask<byte[]> ActivateCredentialEndingSessionAsync(
        uint activateHandle,
        ReadOnlyMemory<byte> activateAuth,
        uint keyHandle,
        uint keyPolicySession,
        ReadOnlyMemory<byte> credentialBlob,
        ReadOnlyMemory<byte> secret,
        CancellationToken cancellationToken = default)
        => ActivateCredentialCoreAsync(
            activateHandle,
            activateAuth,
            keyHandle,
            new TpmAuthCommand(keyPolicySession, ReadOnlyMemory<byte>.Empty, TpmSessionAttributes.None, ReadOnlyMemory<byte>.Empty),
            credentialBlob,
            secret,
            cancellationToken);

    private async ValueTask<byte[]> ActivateCredentialCoreAsync(
        uint activateHandle,
        ReadOnlyMemory<byte> activateAuth,
        uint keyHandle,
        TpmAuthCommand keyPolicy,
        ReadOnlyMemory<byte> credentialBlob,
        ReadOnlyMemory<byte> secret,
        CancellationToken cancellationToken)
    {
        using var command = BeginCommand(TpmCommandCode.ActivateCredential, sessions: true);
        command.WriteUInt32(activateHandle);
        command.WriteUInt32(keyHandle);
        WriteAuthorizations(command, TpmAuthCommand.Password(activateAuth), keyPolicy);
        command.WriteSized(credentialBlob.Span);
        command.WriteSized(secret.Span);
        var response = await SendAsync(command, TpmCommandCode.ActivateCredential, cancellationToken).ConfigureAwait(false);
        try
        {
            var reader = OpenParameters(response, []);
            var credential = reader.ReadSized(TpmConstants.MaxDigestSize, "TPM2B_DIGEST certInfo").ToArray();
            reader.EnsureAtEnd("TPM2_ActivateCredential response");
            return credential;
        }
        finally
        {
            Wipe(response);
        }
    }
}

using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>Policy sessions and credential activation: StartAuthSession, PolicySecret, ActivateCredential.</summary>
/// <remarks>TPM 2.0 Library Part 3 §11.1 (StartAuthSession), §23.4 (PolicySecret: policyDigest ← H(policyDigest ‖
/// TPM_CC_PolicySecret ‖ authName), then H(… ‖ policyRef)), §12.5 (ActivateCredential, Part 1 §24).</remarks>
internal sealed partial class SoftwareTpm
{
    private static ReadOnlySpan<byte> IdentityLabel => "IDENTITY\0"u8;

    private uint? StartAuthSession(Context context, ref TpmReader parameters, TpmWriter output)
    {
        if (context.Handles[0] != TpmHandles.Null)
        {
            throw SoftwareTpmFault.OnHandle(TpmResponseCode.Value, 1); // salted sessions are not modelled
        }

        if (context.Handles[1] != TpmHandles.Null)
        {
            throw SoftwareTpmFault.OnHandle(TpmResponseCode.Value, 2); // bound sessions are not modelled
        }

        var nonceCaller = Sized(ref parameters, context, 1, TpmConstants.MaxDigestSize);
        var salt = Sized(ref parameters, context, 2, MaxEncryptedSecretSize);
        context.Parameter = 3;
        var type = (TpmSessionType)parameters.ReadByte();
        context.Parameter = 4;
        var symmetric = TpmSymmetricDefinition.Read(ref parameters);
        context.Parameter = 5;
        var hash = (TpmAlgorithm)parameters.ReadUInt16();
        context.Parameter = 0;
        if (nonceCaller.Length < 16)
        {
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Size, 1);
        }

        if (!salt.IsEmpty)
        {
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Value, 2);
        }

        if (type is not (TpmSessionType.Policy or TpmSessionType.Trial))
        {
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Value, 3); // HMAC sessions are not modelled
        }

        if (symmetric.Algorithm != TpmAlgorithm.Null)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Symmetric, 4);
        }

        if (hash != TpmAlgorithm.Sha256)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Hash, 5);
        }

        if (_sessions.Count >= MaxSessions)
        {
            throw new SoftwareTpmFault(TpmResponseCode.SessionMemory);
        }

        var handle = 0x0300_0000u | (_nextSession++ & 0x00FF_FFFF);
        var session = new SoftwareTpmSession { Type = type, NonceTpm = RandomNumberGenerator.GetBytes(SHA256.HashSizeInBytes) };
        _sessions[handle] = session;
        output.WriteSized(session.NonceTpm);
        return handle;
    }

    private uint? PolicySecret(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var entity = GetEntity(context.Handles[0], 1);
        if (!_sessions.TryGetValue(context.Handles[1], out var session))
        {
            throw new SoftwareTpmFault(SoftwareTpmRc.ReferenceH0 + 1);
        }

        Authorize(context, 1, entity);
        var nonceTpm = Sized(ref parameters, context, 1, TpmConstants.MaxDigestSize);
        Sized(ref parameters, context, 2, TpmConstants.MaxDigestSize); // cpHashA: not enforced
        var policyRef = Sized(ref parameters, context, 3, TpmConstants.MaxDigestSize);
        context.Parameter = 4;
        parameters.ReadInt32(); // expiration: no time limits are modelled
        context.Parameter = 0;
        if (!nonceTpm.IsEmpty && !CryptographicOperations.FixedTimeEquals(nonceTpm, session.NonceTpm))
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Nonce, 1);
        }

        Span<byte> code = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(code, (uint)TpmCommandCode.PolicySecret);
        session.PolicyDigest = SHA256.HashData([.. session.PolicyDigest, .. code, .. entity.Name]);
        session.PolicyDigest = SHA256.HashData([.. session.PolicyDigest, .. policyRef]);

        output.WriteUInt16(0); // timeout: none
        output.WriteUInt16((ushort)TpmStructureTag.AuthSecret); // a NULL ticket
        output.WriteUInt32(TpmHandles.Null);
        output.WriteUInt16(0);
        return null;
    }

    private uint? ActivateCredential(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var activate = GetObject(context.Handles[0], 1);
        var key = GetObject(context.Handles[1], 2);
        Authorize(context, 1, GetEntity(context.Handles[0], 1), admin: true);
        Authorize(context, 2, GetEntity(context.Handles[1], 2));
        var credentialBlob = Sized(ref parameters, context, 1, 2 * (2 + TpmConstants.MaxDigestSize));
        var secret = Sized(ref parameters, context, 2, MaxEncryptedSecretSize);
        context.Parameter = 0;
        if (key.RsaKey is null || !key.IsStorageParent)
        {
            throw SoftwareTpmFault.OnHandle(SoftwareTpmRc.Type, 2);
        }

        var seed = DecryptSeed(key.RsaKey, secret, IdentityLabel, parameter: 2);
        try
        {
            var credential = SoftwareTpmWrapping.CredentialToSecret(credentialBlob, activate.Name, seed);
            output.WriteSized(credential);
            CryptographicOperations.ZeroMemory(credential);
        }
        catch (SoftwareTpmFault fault)
        {
            throw SoftwareTpmFault.OnParameter(fault.ResponseCode, 1);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }

        return null;
    }
}

using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>Handles and authorization: resolving handles to entities, and checking passwords and policy sessions.</summary>
/// <remarks>TPM 2.0 Library Part 1, §19.6 (authorization roles: USER needs userWithAuth for a password, ADMIN needs
/// adminWithPolicy clear; otherwise a policy session whose policyDigest equals authPolicy), Part 3 §5.6 (handle checks).</remarks>
internal sealed partial class SoftwareTpm
{
    /// <summary>An entity that can be authorized: a hierarchy, an object, or an NV index.</summary>
    private readonly record struct Entity(byte[] Name, byte[] AuthValue, ReadOnlyMemory<byte> AuthPolicy, SoftwareTpmObject? Object);

    private SoftwareTpmObject GetObject(uint handle, int position)
    {
        switch (TpmHandles.TypeOf(handle))
        {
            case TpmHandles.TransientType:
                return _transient.TryGetValue(handle, out var transient)
                    ? transient
                    : throw new SoftwareTpmFault(SoftwareTpmRc.ReferenceH0 + (uint)(position - 1));
            case TpmHandles.PersistentType:
                return State.Persistent.TryGetValue(handle, out var persistent)
                    ? persistent
                    : throw SoftwareTpmFault.OnHandle(TpmResponseCode.Handle, position);
            default:
                throw SoftwareTpmFault.OnHandle(TpmResponseCode.Handle, position);
        }
    }

    private static void RequireHierarchy(uint handle, int position)
    {
        if (handle is not (TpmHandles.Owner or TpmHandles.Endorsement))
        {
            // The platform, lockout and null hierarchies are not modelled.
            throw SoftwareTpmFault.OnHandle(SoftwareTpmRc.Hierarchy, position);
        }
    }

    private Entity GetEntity(uint handle, int position)
    {
        if (handle is TpmHandles.Owner or TpmHandles.Endorsement)
        {
            return new Entity(SoftwareTpmObject.HandleName(handle), [], ReadOnlyMemory<byte>.Empty, null);
        }

        if (TpmHandles.TypeOf(handle) == TpmHandles.NvIndexType)
        {
            if (!State.NvIndices.TryGetValue(handle, out var nv))
            {
                throw SoftwareTpmFault.OnHandle(TpmResponseCode.Handle, position);
            }

            return new Entity(NvName(nv.Public), [], nv.Public.AuthPolicy, null);
        }

        var obj = GetObject(handle, position);
        return new Entity(obj.Name, obj.AuthValue, obj.Public.AuthPolicy, obj);
    }

    /// <summary>Checks authorization <paramref name="session"/> (1-based) of the command for <paramref name="entity"/>.</summary>
    private void Authorize(Context context, int session, Entity entity, bool admin = false)
    {
        var auth = context.Authorizations[session - 1];
        var obj = entity.Object;
        if (auth.SessionHandle == TpmHandles.PasswordSession)
        {
            if (obj is { Sequence: null }
                && (admin ? obj.Public.Attributes.HasFlag(TpmObjectAttributes.AdminWithPolicy) : !obj.Public.Attributes.HasFlag(TpmObjectAttributes.UserWithAuth)))
            {
                throw new SoftwareTpmFault(SoftwareTpmRc.AuthUnavailable);
            }

            if (!CryptographicOperations.FixedTimeEquals(TrimTrailingZeros(auth.Hmac.Span), TrimTrailingZeros(entity.AuthValue)))
            {
                var noDa = obj is null ? false : obj.Sequence is not null || obj.Public.Attributes.HasFlag(TpmObjectAttributes.NoDA);
                throw SoftwareTpmFault.OnSession(noDa ? TpmResponseCode.BadAuth : TpmResponseCode.AuthFail, session);
            }

            return;
        }

        var policy = _sessions[auth.SessionHandle];
        if (policy.Type != TpmSessionType.Policy || entity.AuthPolicy.IsEmpty
            || !CryptographicOperations.FixedTimeEquals(policy.PolicyDigest, entity.AuthPolicy.Span))
        {
            throw SoftwareTpmFault.OnSession(SoftwareTpmRc.PolicyFail, session);
        }
    }

    /// <summary>Part 1 §19.6.4: trailing zeros of an authValue are not significant.</summary>
    private static ReadOnlySpan<byte> TrimTrailingZeros(ReadOnlySpan<byte> value) => value.TrimEnd((byte)0);

    private static byte[] NvName(TpmNvPublic nvPublic)
    {
        using var writer = new TpmWriter(64);
        nvPublic.WriteSized(writer);
        return SoftwareTpmObject.NameOf(writer.WrittenSpan[2..]);
    }

    private uint AddTransient(SoftwareTpmObject obj)
    {
        if (_transient.Count >= MaxObjects)
        {
            obj.Wipe();
            throw new SoftwareTpmFault(TpmResponseCode.ObjectMemory);
        }

        var handle = 0x8000_0000u | (_nextObject++ & 0x00FF_FFFF);
        while (_transient.ContainsKey(handle))
        {
            handle = 0x8000_0000u | (_nextObject++ & 0x00FF_FFFF);
        }

        _transient[handle] = obj;
        return handle;
    }
}

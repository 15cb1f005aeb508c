using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>Startup, GetRandom, GetCapability (handles) and the NV reads.</summary>
/// <remarks>TPM 2.0 Library Part 3 §9.3 (Startup), §16.1 (GetRandom), §30.2 (GetCapability, TPM_CAP_HANDLES),
/// §31.6 (NV_ReadPublic), §31.13 (NV_Read).</remarks>
internal sealed partial class SoftwareTpm
{
    private uint? Startup(Context context, ref TpmReader parameters, TpmWriter output)
    {
        context.Parameter = 1;
        var type = parameters.ReadUInt16();
        context.Parameter = 0;
        if (_started)
        {
            throw new SoftwareTpmFault(TpmResponseCode.Initialize);
        }

        if (type != TpmConstants.StartupClear)
        {
            // Startup(STATE) needs a Shutdown(STATE) before the power cycle; this TPM never saves one.
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Value, 1);
        }

        foreach (var obj in _transient.Values)
        {
            obj.Wipe();
        }

        _transient.Clear();
        _sessions.Clear();
        _started = true;
        return null;
    }

    private uint? GetRandom(Context context, ref TpmReader parameters, TpmWriter output)
    {
        context.Parameter = 1;
        var count = Math.Min(parameters.ReadUInt16(), (ushort)TpmConstants.MaxDigestSize);
        context.Parameter = 0;
        Span<byte> random = stackalloc byte[count];
        RandomNumberGenerator.Fill(random);
        output.WriteSized(random);
        return null;
    }

    private uint? GetCapability(Context context, ref TpmReader parameters, TpmWriter output)
    {
        context.Parameter = 1;
        var capability = parameters.ReadUInt32();
        context.Parameter = 2;
        var property = parameters.ReadUInt32();
        context.Parameter = 3;
        var count = parameters.ReadUInt32();
        context.Parameter = 0;
        if (capability != TpmConstants.CapabilityHandles)
        {
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Value, 1);
        }

        IEnumerable<uint> handles = TpmHandles.TypeOf(property) switch
        {
            TpmHandles.TransientType => _transient.Keys,
            TpmHandles.PersistentType => State.Persistent.Keys,
            TpmHandles.NvIndexType => State.NvIndices.Keys,
            TpmHandles.HmacSessionType or TpmHandles.PolicySessionType => _sessions.Keys,
            _ => throw SoftwareTpmFault.OnParameter(TpmResponseCode.Value, 2),
        };
        var type = TpmHandles.TypeOf(property);
        var matching = handles.Where(h => h >= property && TpmHandles.TypeOf(h) == type).Order().ToList();
        var take = (int)Math.Min(Math.Min(count, 254u), (uint)matching.Count);
        output.WriteByte(take < matching.Count ? (byte)1 : (byte)0);
        output.WriteUInt32(capability);
        output.WriteUInt32((uint)take);
        foreach (var handle in matching.Take(take))
        {
            output.WriteUInt32(handle);
        }

        return null;
    }

    private uint? NvReadPublic(Context context, ref TpmReader parameters, TpmWriter output)
    {
        if (!State.NvIndices.TryGetValue(context.Handles[0], out var nv))
        {
            throw SoftwareTpmFault.OnHandle(TpmResponseCode.Handle, 1);
        }

        nv.Public.WriteSized(output);
        output.WriteSized(NvName(nv.Public));
        return null;
    }

    private uint? NvRead(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var authHandle = context.Handles[0];
        if (!State.NvIndices.TryGetValue(context.Handles[1], out var nv))
        {
            throw SoftwareTpmFault.OnHandle(TpmResponseCode.Handle, 2);
        }

        var allowed = authHandle == nv.Public.Index
            ? (nv.Public.Attributes & TpmNvPublic.AuthReadAttribute) != 0
            : authHandle == TpmHandles.Owner && (nv.Public.Attributes & TpmNvPublic.OwnerReadAttribute) != 0;
        if (!allowed)
        {
            throw new SoftwareTpmFault(SoftwareTpmRc.NvAuthorization);
        }

        Authorize(context, 1, GetEntity(authHandle, 1));
        context.Parameter = 1;
        var size = parameters.ReadUInt16();
        context.Parameter = 2;
        var offset = parameters.ReadUInt16();
        context.Parameter = 0;
        if (size > TpmConstants.MaxBufferSize || offset + size > nv.Data.Length)
        {
            throw new SoftwareTpmFault(SoftwareTpmRc.NvRange);
        }

        output.WriteSized(nv.Data.AsSpan(offset, size));
        return null;
    }
}

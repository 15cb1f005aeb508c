namespace Provisioning.Device.Tpm;

/// <summary>Startup, GetRandom and GetCapability (Part 3 §9.3, §16.1, §30.2).</summary>
internal sealed partial class TpmCommands
{
    /// <summary>TPM2_Startup(CLEAR). Returns false when the TPM was already started (TPM_RC_INITIALIZE), which is the normal case.</summary>
    public async ValueTask<bool> StartupAsync(CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.Startup, sessions: false);
        command.WriteUInt16(TpmConstants.StartupClear);
        try
        {
            await SendAsync(command, TpmCommandCode.Startup, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (TpmException e) when (e.ResponseCode == TpmResponseCode.Initialize)
        {
            return false;
        }
    }

    /// <summary>TPM2_GetRandom: up to <paramref name="count"/> random bytes (a TPM may return fewer).</summary>
    public async ValueTask<byte[]> GetRandomAsync(ushort count, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.GetRandom, sessions: false);
        command.WriteUInt16(count);
        var response = await SendAsync(command, TpmCommandCode.GetRandom, cancellationToken).ConfigureAwait(false);
        var reader = OpenParameters(response, []);
        var bytes = reader.ReadSized(TpmConstants.MaxDigestSize, "TPM2B_DIGEST randomBytes").ToArray();
        reader.EnsureAtEnd("TPM2_GetRandom response");
        return bytes;
    }

    /// <summary>TPM2_GetCapability(TPM_CAP_HANDLES): every handle of the given type (for example 0x81 persistent, 0x80 transient).</summary>
    public async ValueTask<IReadOnlyList<uint>> GetHandlesAsync(byte handleType, CancellationToken cancellationToken = default)
    {
        var handles = new List<uint>();
        var next = (uint)handleType << 24;
        var end = ((uint)handleType + 1) << 24;
        while (true)
        {
            using var command = BeginCommand(TpmCommandCode.GetCapability, sessions: false);
            command.WriteUInt32(TpmConstants.CapabilityHandles);
            command.WriteUInt32(next);
            command.WriteUInt32(64);
            var response = await SendAsync(command, TpmCommandCode.GetCapability, cancellationToken).ConfigureAwait(false);
            var reader = OpenParameters(response, []);
            var more = reader.ReadByte() != 0;
            var capability = reader.ReadUInt32();
            if (capability != TpmConstants.CapabilityHandles)
            {
                throw new TpmFormatException($"TPM2_GetCapability answered capability {capability} for TPM_CAP_HANDLES.");
            }

            var count = reader.ReadUInt32();
            if (count > 254)
            {
                throw new TpmFormatException($"TPML_HANDLE claims {count} handles; at most 254 fit.");
            }

            for (var i = 0; i < count; i++)
            {
                var handle = reader.ReadUInt32();
                if (handle < next || handle >= end)
                {
                    more = false;
                    break;
                }

                handles.Add(handle);
                next = handle + 1;
            }

            if (!more || count == 0)
            {
                return handles;
            }
        }
    }
}

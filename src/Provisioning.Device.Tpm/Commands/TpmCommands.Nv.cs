namespace Provisioning.Device.Tpm;

/// <summary>NV_ReadPublic and NV_Read (Part 3 §31.6, §31.13), enough to read an EK certificate.</summary>
internal sealed partial class TpmCommands
{
    /// <summary>The chunk size for NV_Read: below every TPM's TPM_PT_NV_BUFFER_MAX in practice (swtpm: 1024).</summary>
    private const ushort NvChunk = 512;

    /// <summary>TPM2_NV_ReadPublic.</summary>
    public async ValueTask<TpmNvPublic> NvReadPublicAsync(uint nvIndex, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.NvReadPublic, sessions: false);
        command.WriteUInt32(nvIndex);
        var response = await SendAsync(command, TpmCommandCode.NvReadPublic, cancellationToken).ConfigureAwait(false);
        var reader = OpenParameters(response, []);
        var result = TpmNvPublic.ReadSized(ref reader);
        reader.ReadSized(TpmConstants.MaxDigestSize + 2, "TPM2B_NAME nvName");
        reader.EnsureAtEnd("TPM2_NV_ReadPublic response");
        return result;
    }

    /// <summary>Reads <paramref name="size"/> bytes of an NV index in chunks with TPM2_NV_Read.</summary>
    /// <param name="authHandle">The index itself (AUTHREAD) or TPM_RH_OWNER (OWNERREAD).</param>
    /// <param name="authValue">The password of <paramref name="authHandle"/>.</param>
    /// <param name="nvIndex">The index.</param>
    /// <param name="size">How many bytes to read from offset 0.</param>
    /// <param name="cancellationToken">Cancels the reads.</param>
    public async ValueTask<byte[]> NvReadAsync(uint authHandle, ReadOnlyMemory<byte> authValue, uint nvIndex, ushort size, CancellationToken cancellationToken = default)
    {
        var data = new byte[size];
        for (var offset = 0; offset < size;)
        {
            var chunk = (ushort)Math.Min(NvChunk, size - offset);
            using var command = BeginCommand(TpmCommandCode.NvRead, sessions: true);
            command.WriteUInt32(authHandle);
            command.WriteUInt32(nvIndex);
            WriteAuthorizations(command, TpmAuthCommand.Password(authValue));
            command.WriteUInt16(chunk);
            command.WriteUInt16((ushort)offset);
            var response = await SendAsync(command, TpmCommandCode.NvRead, cancellationToken).ConfigureAwait(false);
            var reader = OpenParameters(response, []);
            var bytes = reader.ReadSized(chunk, "TPM2B_MAX_NV_BUFFER");
            reader.EnsureAtEnd("TPM2_NV_Read response");
            if (bytes.Length == 0)
            {
                throw new TpmFormatException($"TPM2_NV_Read returned no data at offset {offset} of {size}.");
            }

            bytes.CopyTo(data.AsSpan(offset));
            offset += bytes.Length;
        }

        return data;
    }
}

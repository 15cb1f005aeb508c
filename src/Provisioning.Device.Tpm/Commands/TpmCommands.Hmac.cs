namespace Provisioning.Device.Tpm;

/// <summary>HMAC and HMAC sequences: HMAC, HMAC_Start, SequenceUpdate, SequenceComplete (Part 3 §15.5, §17.2, §17.4, §17.5).</summary>
internal sealed partial class TpmCommands
{
    /// <summary>TPM2_HMAC over at most <see cref="TpmConstants.MaxBufferSize"/> bytes.</summary>
    public async ValueTask<byte[]> HmacAsync(uint keyHandle, ReadOnlyMemory<byte> keyAuth, ReadOnlyMemory<byte> data, TpmAlgorithm hash, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.Hmac, sessions: true);
        command.WriteUInt32(keyHandle);
        WriteAuthorizations(command, TpmAuthCommand.Password(keyAuth));
        command.WriteSized(data.Span);
        command.WriteUInt16((ushort)hash);
        var response = await SendAsync(command, TpmCommandCode.Hmac, cancellationToken).ConfigureAwait(false);
        var reader = OpenParameters(response, []);
        var mac = reader.ReadSized(TpmConstants.MaxDigestSize, "TPM2B_DIGEST outHMAC").ToArray();
        reader.EnsureAtEnd("TPM2_HMAC response");
        return mac;
    }

    /// <summary>TPM2_HMAC_Start; returns the sequence handle (the caller completes or flushes it).</summary>
    public async ValueTask<uint> HmacStartAsync(uint keyHandle, ReadOnlyMemory<byte> keyAuth, TpmAlgorithm hash, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.HmacStart, sessions: true);
        command.WriteUInt32(keyHandle);
        WriteAuthorizations(command, TpmAuthCommand.Password(keyAuth));
        command.WriteUInt16(0); // the sequence's own auth: empty
        command.WriteUInt16((ushort)hash);
        var response = await SendAsync(command, TpmCommandCode.HmacStart, cancellationToken).ConfigureAwait(false);
        Span<uint> handle = stackalloc uint[1];
        var reader = OpenParameters(response, handle);
        reader.EnsureAtEnd("TPM2_HMAC_Start response");
        return handle[0];
    }

    /// <summary>TPM2_SequenceUpdate with at most <see cref="TpmConstants.MaxBufferSize"/> bytes.</summary>
    public async ValueTask SequenceUpdateAsync(uint sequenceHandle, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.SequenceUpdate, sessions: true);
        command.WriteUInt32(sequenceHandle);
        WriteAuthorizations(command, TpmAuthCommand.Password());
        command.WriteSized(data.Span);
        await SendAsync(command, TpmCommandCode.SequenceUpdate, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>TPM2_SequenceComplete with the last bytes; the TPM flushes the sequence when this succeeds.</summary>
    public async ValueTask<byte[]> SequenceCompleteAsync(uint sequenceHandle, ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.SequenceComplete, sessions: true);
        command.WriteUInt32(sequenceHandle);
        WriteAuthorizations(command, TpmAuthCommand.Password());
        command.WriteSized(data.Span);
        command.WriteUInt32(TpmHandles.Null); // hierarchy for the ticket: none wanted
        var response = await SendAsync(command, TpmCommandCode.SequenceComplete, cancellationToken).ConfigureAwait(false);
        var reader = OpenParameters(response, []);
        var result = reader.ReadSized(TpmConstants.MaxDigestSize, "TPM2B_DIGEST result").ToArray();
        reader.ReadUInt16(); // TPMT_TK_HASHCHECK: tag, hierarchy, digest
        reader.ReadUInt32();
        reader.ReadSized(TpmConstants.MaxDigestSize, "TPM2B_DIGEST ticket");
        reader.EnsureAtEnd("TPM2_SequenceComplete response");
        return result;
    }
}

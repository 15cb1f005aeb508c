namespace Provisioning.Device.Tpm;

/// <summary>Signing with the identity key (dps-protocol.md §2.3 "Signing", §2.4).</summary>
public sealed partial class TpmIdentity
{
    /// <summary>HMAC-SHA256 of <paramref name="data"/> with the persisted identity key.</summary>
    /// <remarks>Up to 1024 bytes go in one TPM2_HMAC; longer data goes through HMAC_Start, SequenceUpdate in 1024-byte
    /// chunks and SequenceComplete, because TPMs (swtpm included) take at most 1024 bytes per command buffer.</remarks>
    /// <exception cref="TpmException">No identity key is persisted, or the TPM failed.</exception>
    public async ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            using var activity = ActivitySource.StartActivity("TpmIdentity.Sign");
            var key = _options.IdentityKeyHandle;
            try
            {
                if (data.Length <= TpmConstants.MaxBufferSize)
                {
                    return await _tpm.HmacAsync(key, default, data, TpmAlgorithm.Sha256, cancellationToken).ConfigureAwait(false);
                }

                return await SignSequenceAsync(key, data, cancellationToken).ConfigureAwait(false);
            }
            catch (TpmException e) when (IsAbsent(e))
            {
                throw new TpmException(e.ResponseCode, $"No identity key is persisted at 0x{key:X8}: activate one from DPS first ({e.Message}).", e);
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async ValueTask<byte[]> SignSequenceAsync(uint key, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var sequence = await _tpm.HmacStartAsync(key, default, TpmAlgorithm.Sha256, cancellationToken).ConfigureAwait(false);
        var completed = false;
        try
        {
            while (data.Length > TpmConstants.MaxBufferSize)
            {
                await _tpm.SequenceUpdateAsync(sequence, data[..TpmConstants.MaxBufferSize], cancellationToken).ConfigureAwait(false);
                data = data[TpmConstants.MaxBufferSize..];
            }

            var result = await _tpm.SequenceCompleteAsync(sequence, data, cancellationToken).ConfigureAwait(false);
            completed = true;
            return result;
        }
        finally
        {
            if (!completed)
            {
                // SequenceComplete flushes the sequence only when it succeeds.
                await FlushAsync(sequence).ConfigureAwait(false);
            }
        }
    }
}

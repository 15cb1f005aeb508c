namespace Provisioning.Device.Tpm;

/// <summary>
/// A TPM 2.0 in this process, for development, tests and devices without a TPM: the same commands, response codes and limits
/// as a real TPM, so every layer above the transport runs unchanged. Open it with the spec <c>software</c> (an ephemeral TPM
/// that lives as long as the transport) or <c>software:&lt;state-dir&gt;</c> (a TPM whose seeds, keys and persistent objects
/// are kept in that folder: the same folder gives the same EK and registration ID).
/// </summary>
/// <remarks>
/// Commands: Startup, GetRandom, GetCapability (handles), ReadPublic, CreatePrimary (RSA-2048 storage keys such as the EK and
/// SRK), EvictControl, FlushContext, StartAuthSession (policy) and PolicySecret, ActivateCredential, Import and Load (keyed-hash
/// keys), HMAC and HMAC sequences, NV_ReadPublic and NV_Read; anything else answers TPM_RC_COMMAND_CODE. Limits as swtpm's:
/// 3 transient objects, 3 sessions, 1024-byte buffers. It protects nothing a real TPM protects: its keys are in memory and in
/// the state folder (owner-only, refused when others can read it), and its RSA arithmetic is not constant-time.
/// </remarks>
public sealed class SoftwareTpmTransport : TpmTransport
{
    private readonly SoftwareTpm _tpm;

    /// <summary>Creates a software TPM; nothing is read or created until the first command.</summary>
    /// <param name="stateDirectory">The state folder (created owner-only if missing), or null for an ephemeral TPM.</param>
    /// <exception cref="ArgumentException"><paramref name="stateDirectory"/> is empty or whitespace.</exception>
    public SoftwareTpmTransport(string? stateDirectory = null)
    {
        if (stateDirectory is not null)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(stateDirectory);
        }

        StateDirectory = stateDirectory is null ? null : Path.GetFullPath(stateDirectory);
        _tpm = new SoftwareTpm(StateDirectory is null ? null : new SoftwareTpmStateStore(StateDirectory));
    }

    /// <summary>The state folder, or null for an ephemeral TPM.</summary>
    public string? StateDirectory { get; }

    internal SoftwareTpm Tpm => _tpm;

    /// <inheritdoc />
    /// <exception cref="TpmException">The state folder is open to others, unreadable, or cannot be written.</exception>
    public override ValueTask<byte[]> ExecuteAsync(ReadOnlyMemory<byte> command, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (!TpmMetrics.TransportEnabled)
        {
            return ValueTask.FromResult(_tpm.Execute(command.Span));
        }

        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var response = _tpm.Execute(command.Span);
        TpmMetrics.RecordExchange(System.Diagnostics.Stopwatch.GetTimestamp() - started);
        return ValueTask.FromResult(response);
    }

    /// <inheritdoc />
    protected override ValueTask DisposeAsyncCore()
    {
        _tpm.Dispose();
        return base.DisposeAsyncCore();
    }
}

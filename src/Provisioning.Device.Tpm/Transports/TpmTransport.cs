namespace Provisioning.Device.Tpm;

/// <summary>A way to reach a TPM 2.0: one command in, one response out.</summary>
/// <remarks>
/// Like a TCG TCTI (TSS 2.0 TCTI specification): it moves bytes and knows nothing of commands. Opening only parses the spec;
/// the connection is made by the first command, so constructing an identity never talks to the TPM. Commands are serialised:
/// a TPM runs one at a time. After a timeout, cancellation or broken stream the connection is dropped and the next command
/// reconnects (persistent objects survive; on swtpm, loaded objects do too).
/// </remarks>
public abstract class TpmTransport : IAsyncDisposable
{
    /// <summary>Opens a transport from a spec string.</summary>
    /// <param name="spec">
    /// <c>device</c> (<c>/dev/tpmrm0</c>, else <c>/dev/tpm0</c>; on Windows, TPM Base Services), <c>device:&lt;path&gt;</c> (a
    /// character device only: anything else is refused before a byte is written), <c>swtpm:&lt;host&gt;:&lt;port&gt;</c>
    /// (raw TCP), <c>mssim:&lt;host&gt;:&lt;port&gt;</c> (Microsoft reference simulator; platform port = port + 1) or
    /// <c>unix:&lt;path&gt;</c> (raw commands over a Unix socket), or <c>software[:&lt;state-dir&gt;]</c> (the in-process
    /// <see cref="SoftwareTpmTransport"/>).
    /// </param>
    /// <param name="options">Timeouts and simulator settings; defaults when null.</param>
    /// <exception cref="ArgumentException">The spec is malformed or names an unknown or unavailable kind of TPM.</exception>
    public static TpmTransport Open(string spec, TpmTransportOptions? options = null)
        => TpmTransportSpec.Open(spec, options ?? new TpmTransportOptions());

    /// <summary>Sends one complete command and returns the complete response (whatever its response code).</summary>
    /// <param name="command">A marshalled TPM 2.0 command, header included.</param>
    /// <param name="cancellationToken">Cancels the exchange; the connection is then dropped.</param>
    /// <exception cref="TpmException">The TPM cannot be reached (<see cref="TpmException.IsBusy"/> when it is in use or refused
    /// the connection), the peer does not speak this transport's framing, or the exchange failed.</exception>
    /// <exception cref="TpmFormatException">The response is not a well-formed TPM message.</exception>
    /// <exception cref="TimeoutException">The TPM is not answering: no response within the command's deadline
    /// (<see cref="TpmTransportOptions.TimeoutFor"/>).</exception>
    public abstract ValueTask<byte[]> ExecuteAsync(ReadOnlyMemory<byte> command, CancellationToken cancellationToken = default);

    /// <summary>Closes the connection.</summary>
    public async ValueTask DisposeAsync()
    {
        await DisposeAsyncCore().ConfigureAwait(false);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases the transport's resources.</summary>
    protected virtual ValueTask DisposeAsyncCore() => ValueTask.CompletedTask;
}

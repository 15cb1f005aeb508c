using System.Buffers;
using System.Buffers.Binary;
using System.Net.Sockets;

namespace Provisioning.Device.Tpm;

/// <summary>A transport over a byte stream (socket or character device): connects lazily, one command at a time, with a
/// timeout; a failed exchange drops the connection so the next command starts clean.</summary>
internal abstract class StreamTpmTransport : TpmTransport
{
    /// <summary>The largest response accepted (TPM2 responses are at most a few KiB; swtpm's buffer is 4 KiB).</summary>
    internal const int MaxMessageSize = 8192;

    private readonly SemaphoreSlim _gate = new(1, 1);
    private Stream? _stream;
    private bool _answered;
    private bool _disposed;

    protected StreamTpmTransport(TpmTransportOptions options, string description)
    {
        Options = options;
        Description = description;
    }

    /// <summary>Where the TPM is, for messages (e.g. <c>swtpm:127.0.0.1:2321</c>).</summary>
    public string Description { get; }

    protected TpmTransportOptions Options { get; }

    public override async ValueTask<byte[]> ExecuteAsync(ReadOnlyMemory<byte> command, CancellationToken cancellationToken = default)
    {
        if (command.Length < TpmMessage.HeaderSize)
        {
            throw new ArgumentException("A TPM command has at least a 10-byte header.", nameof(command));
        }

        var code = (TpmCommandCode)BinaryPrimitives.ReadUInt32BigEndian(command.Span.Slice(6, 4));
        var deadline = Options.TimeoutFor(code);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var completed = false;
            var connecting = _stream is null;
            var firstExchange = connecting || !_answered;
            try
            {
                timeout.CancelAfter(Options.ConnectTimeout);
                var stream = _stream ??= await ConnectAsync(timeout.Token).ConfigureAwait(false);
                connecting = false;
                timeout.CancelAfter(deadline);
                var started = TpmMetrics.TransportEnabled ? System.Diagnostics.Stopwatch.GetTimestamp() : 0;
                await WriteCommandAsync(stream, command, timeout.Token).ConfigureAwait(false);
                var response = await ReadResponseAsync(stream, firstExchange, timeout.Token).ConfigureAwait(false);
                if (started != 0)
                {
                    TpmMetrics.RecordExchange(System.Diagnostics.Stopwatch.GetTimestamp() - started);
                }

                completed = true;
                _answered = true;
                return response;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                if (connecting)
                {
                    throw new TpmException($"Connecting to the TPM at {Description} took longer than {Seconds(Options.ConnectTimeout)}: it is not accepting connections.")
                    {
                        IsBusy = true,
                    };
                }

                // Drop the connection first: a busy-probe must not hold the TPM's only client slot.
                await DropAsync().ConfigureAwait(false);
                throw await DescribeSilenceAsync(CommandName(code), deadline, firstExchange).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                throw new TpmException($"The connection to the TPM at {Description} failed: {e.Message}", e);
            }
            finally
            {
                if (!completed || (Options.ReleaseConnectionBetweenCommands && ReleasableBetweenCommands))
                {
                    await DropAsync().ConfigureAwait(false);
                }
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>The error for a command that got no answer in time: by default "not answering" (a <see cref="TimeoutException"/>);
    /// a transport that can tell a busy TPM from a dead one overrides this.</summary>
    /// <param name="command">The command's name (without the TPM2_ prefix).</param>
    /// <param name="deadline">How long was waited.</param>
    /// <param name="firstExchange">Whether this was the first command on a new connection (nothing has answered on it yet).</param>
    protected virtual ValueTask<Exception> DescribeSilenceAsync(string command, TimeSpan deadline, bool firstExchange)
        => ValueTask.FromResult<Exception>(NotAnswering(command, deadline, firstExchange ? BusyHint : null));

    /// <summary>What else than a hung TPM can explain silence on a first exchange (another client holding a TPM that serves
    /// one at a time); null when nothing.</summary>
    protected virtual string? BusyHint => null;

    /// <summary>The "not answering" error.</summary>
    protected TimeoutException NotAnswering(string command, TimeSpan deadline, string? hint)
        => new($"The TPM at {Description} did not answer TPM2_{command} within {Seconds(deadline)}: it is not answering (stopped, hung, "
            + "or its process is suspended). Check that the TPM (or the process serving it) is alive"
            + (hint is null ? string.Empty : "; " + hint)
            + $". Quick commands may take {Seconds(Options.Timeout)} and key generation {Seconds(Options.TimeoutFor(TpmCommandCode.CreatePrimary))} "
            + "(TpmTransportOptions.Timeout and KeyGenerationTimeout; --tpm-timeout in the samples).");

    /// <summary>What the peer of a raw transport probably is when its first bytes are not a TPM response, and which spec to
    /// use instead; null when nothing better than "not a TPM" can be said.</summary>
    /// <param name="received">The first bytes received.</param>
    protected virtual string? WrongFramingHint(ReadOnlySpan<byte> received) => null;

    /// <summary>Whether the connection can be closed between commands (<see cref="TpmTransportOptions.ReleaseConnectionBetweenCommands"/>):
    /// true where a connection carries no state of its own (swtpm's raw stream).</summary>
    protected virtual bool ReleasableBetweenCommands => false;

    /// <summary>What a peer that closes the connection on the first command, before answering, probably is; null when unknown.</summary>
    protected virtual string? ClosedOnFirstCommandHint => null;

    /// <summary>The error for a first answer that is not in this transport's framing.</summary>
    protected TpmException WrongFraming(ReadOnlySpan<byte> received, string? hint)
        => new($"The peer at {Description} does not speak this transport's framing: its first bytes were {Convert.ToHexString(received[..Math.Min(received.Length, 8)])}, "
            + "which do not start a TPM 2.0 response"
            + (hint is null ? ". Check the spec (device, swtpm:, mssim:, unix:) and the port or path." : ". " + hint));

    /// <summary>A duration in words, e.g. "30 s" or "5 min".</summary>
    internal static string Seconds(TimeSpan span)
        => span == System.Threading.Timeout.InfiniteTimeSpan ? "no limit"
            : span.TotalSeconds >= 120 && span.TotalSeconds % 60 == 0 ? $"{span.TotalMinutes:0} min" : $"{span.TotalSeconds:0.#} s";

    /// <summary>Opens the stream.</summary>
    protected abstract ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken);

    /// <summary>Writes one command; raw by default.</summary>
    protected virtual async ValueTask WriteCommandAsync(Stream stream, ReadOnlyMemory<byte> command, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(command, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Reads one response; raw by default: the header's size says how much follows.</summary>
    /// <remarks>One large read first, because a kernel TPM device hands the whole response to a single read() (older kernels
    /// discard what a short read leaves behind).</remarks>
    protected virtual async ValueTask<byte[]> ReadResponseAsync(Stream stream, bool firstExchange, CancellationToken cancellationToken)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(MaxMessageSize);
        try
        {
            var filled = 0;
            var size = int.MaxValue;
            while (filled < size)
            {
                var read = await stream.ReadAsync(buffer.AsMemory(filled, MaxMessageSize - filled), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    var hint = filled == 0 && firstExchange ? ClosedOnFirstCommandHint : null;
                    throw new TpmException($"The TPM at {Description} closed the connection after {filled} byte(s) of a response."
                        + (hint is null ? string.Empty : " " + hint));
                }

                if (filled < 2 && filled + read >= 2 && !IsResponseTag(BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(0, 2))))
                {
                    // Not a TPM response: another protocol answered (a simulator's framing, swtpm's control channel).
                    // Say so at once rather than wait for a header that will never complete.
                    var received = buffer.AsSpan(0, filled + read);
                    throw WrongFraming(received, WrongFramingHint(received));
                }

                filled += read;
                if (size == int.MaxValue && filled >= TpmMessage.HeaderSize)
                {
                    size = TpmMessage.PeekSize(buffer.AsSpan(0, filled), MaxMessageSize);
                }
            }

            if (filled != size)
            {
                throw new TpmFormatException($"The TPM at {Description} sent {filled} bytes for a {size}-byte response.");
            }

            return buffer.AsSpan(0, size).ToArray();
        }
        finally
        {
            // Responses can carry secrets (ActivateCredential): clear the pooled copy.
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
        }
    }

    /// <summary>Fills <paramref name="destination"/>, or throws when the stream ends first.</summary>
    protected async ValueTask ReadExactlyAsync(Stream stream, Memory<byte> destination, CancellationToken cancellationToken)
    {
        try
        {
            await stream.ReadExactlyAsync(destination, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException e)
        {
            throw new TpmException($"The TPM at {Description} closed the connection in the middle of a response.", e);
        }
    }

    /// <summary>Reads one big-endian UINT32 from the stream.</summary>
    protected async ValueTask<uint> ReadUInt32Async(Stream stream, CancellationToken cancellationToken)
    {
        var four = new byte[4];
        await ReadExactlyAsync(stream, four, cancellationToken).ConfigureAwait(false);
        return BinaryPrimitives.ReadUInt32BigEndian(four);
    }

    /// <summary>Called before a connection is closed on dispose (e.g. to say goodbye to a simulator).</summary>
    protected virtual ValueTask OnClosingAsync(Stream stream) => ValueTask.CompletedTask;

    protected override async ValueTask DisposeAsyncCore()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            var first = !_disposed;
            _disposed = true;
            if (first && _stream is not null)
            {
                try
                {
                    await OnClosingAsync(_stream).ConfigureAwait(false);
                }
                catch (Exception e) when (e is IOException or SocketException or TpmException)
                {
                    // The peer may already be gone; closing the stream below is all that matters.
                    System.Diagnostics.Debug.WriteLine($"Closing the TPM connection at {Description}: {e.Message}");
                }
            }

            await DropAsync().ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }

        await base.DisposeAsyncCore().ConfigureAwait(false);
    }

    /// <summary>Whether a tag can start a TPM response: TPM_ST_NO_SESSIONS, TPM_ST_SESSIONS, or TPM 1.2's TPM_TAG_RSP_COMMAND.</summary>
    private static bool IsResponseTag(ushort tag) => tag is 0x8001 or 0x8002 or 0x00C4;

    private static string CommandName(TpmCommandCode code)
        => Enum.IsDefined(code) ? code.ToString() : $"0x{(uint)code:X}";

    private async ValueTask DropAsync()
    {
        var stream = _stream;
        _stream = null;
        _answered = false;
        if (stream is not null)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }
}

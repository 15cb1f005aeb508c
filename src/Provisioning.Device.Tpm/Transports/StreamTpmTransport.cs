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

        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var completed = false;
            try
            {
                timeout.CancelAfter(Options.ConnectTimeout);
                var stream = _stream ??= await ConnectAsync(timeout.Token).ConfigureAwait(false);
                timeout.CancelAfter(Options.Timeout);
                await WriteCommandAsync(stream, command, timeout.Token).ConfigureAwait(false);
                var response = await ReadResponseAsync(stream, timeout.Token).ConfigureAwait(false);
                completed = true;
                return response;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException(
                    $"The TPM at {Description} did not answer TPM2_{CommandName(command.Span)} within {Options.Timeout.TotalSeconds:0.#} s.");
            }
            catch (Exception e) when (e is IOException or SocketException)
            {
                throw new TpmException($"The connection to the TPM at {Description} failed: {e.Message}", e);
            }
            finally
            {
                if (!completed)
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
    protected virtual async ValueTask<byte[]> ReadResponseAsync(Stream stream, CancellationToken cancellationToken)
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
                    throw new TpmException($"The TPM at {Description} closed the connection after {filled} byte(s) of a response.");
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

    private static string CommandName(ReadOnlySpan<byte> command)
    {
        var code = (TpmCommandCode)BinaryPrimitives.ReadUInt32BigEndian(command.Slice(6, 4));
        return Enum.IsDefined(code) ? code.ToString() : $"0x{(uint)code:X}";
    }

    private async ValueTask DropAsync()
    {
        var stream = _stream;
        _stream = null;
        if (stream is not null)
        {
            await stream.DisposeAsync().ConfigureAwait(false);
        }
    }
}

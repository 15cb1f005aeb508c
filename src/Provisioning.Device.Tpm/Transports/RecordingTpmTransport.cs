namespace Provisioning.Device.Tpm;

/// <summary>One command and its response, as captured by <see cref="RecordingTpmTransport"/>.</summary>
/// <param name="Command">The command bytes.</param>
/// <param name="Response">The response bytes.</param>
public sealed record TpmExchange(byte[] Command, byte[] Response)
{
    /// <summary>The command code of <see cref="Command"/>.</summary>
    public TpmCommandCode CommandCode => (TpmCommandCode)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(Command.AsSpan(6, 4));

    /// <summary>The response code of <see cref="Response"/>.</summary>
    public uint ResponseCode => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(Response.AsSpan(6, 4));
}

/// <summary>A decorator that keeps every command/response pair passing through, so a transcript can become a test vector
/// or prove what was (not) sent.</summary>
/// <remarks>For tests and diagnostics only: a transcript of an activation holds the recovered credential and the
/// HMAC inputs, so never keep one in production.</remarks>
public sealed class RecordingTpmTransport : TpmTransport
{
    private readonly TpmTransport _inner;
    private readonly bool _ownsInner;
    private readonly List<TpmExchange> _exchanges = [];
    private readonly Lock _lock = new();

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The transport that really talks to the TPM.</param>
    /// <param name="ownsInner">Whether disposing this disposes <paramref name="inner"/>.</param>
    public RecordingTpmTransport(TpmTransport inner, bool ownsInner = true)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
        _ownsInner = ownsInner;
    }

    /// <summary>A snapshot of the exchanges so far, oldest first.</summary>
    public IReadOnlyList<TpmExchange> Exchanges
    {
        get
        {
            lock (_lock)
            {
                return [.. _exchanges];
            }
        }
    }

    /// <summary>Forgets the exchanges recorded so far.</summary>
    public void Clear()
    {
        lock (_lock)
        {
            _exchanges.Clear();
        }
    }

    /// <inheritdoc />
    public override async ValueTask<byte[]> ExecuteAsync(ReadOnlyMemory<byte> command, CancellationToken cancellationToken = default)
    {
        var response = await _inner.ExecuteAsync(command, cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            _exchanges.Add(new TpmExchange(command.ToArray(), response.ToArray()));
        }

        return response;
    }

    /// <inheritdoc />
    protected override async ValueTask DisposeAsyncCore()
    {
        if (_ownsInner)
        {
            await _inner.DisposeAsync().ConfigureAwait(false);
        }

        await base.DisposeAsyncCore().ConfigureAwait(false);
    }
}

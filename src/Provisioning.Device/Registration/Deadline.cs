namespace Provisioning.Device;

/// <summary>
/// A timeout joined to a caller's token, on the configured <see cref="TimeProvider"/>: the token of a request or of a whole
/// registration. With the system clock one source does both (linked to the caller's token, cancelled after the timeout: one
/// timer); a source on another clock cannot be linked at creation, so a second one joins it to the caller's token.
/// </summary>
internal readonly struct Deadline : IDisposable
{
    private readonly CancellationTokenSource? _source;
    private readonly CancellationTokenSource? _clock;

    private Deadline(CancellationTokenSource? source, CancellationTokenSource? clock, CancellationToken token)
    {
        _source = source;
        _clock = clock;
        Token = token;
    }

    /// <summary>Cancelled when the caller's token is, or when the timeout has passed.</summary>
    public CancellationToken Token { get; }

    /// <summary>Starts the timeout now; <see cref="Timeout.InfiniteTimeSpan"/> gives the caller's token itself.</summary>
    public static Deadline Start(TimeSpan timeout, TimeProvider time, CancellationToken cancellationToken)
    {
        if (timeout == Timeout.InfiniteTimeSpan)
        {
            return new Deadline(null, null, cancellationToken);
        }

        if (time == TimeProvider.System)
        {
            var source = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken) : new CancellationTokenSource();
            source.CancelAfter(timeout);
            return new Deadline(source, null, source.Token);
        }

        var clock = new CancellationTokenSource(timeout, time);
        var linked = cancellationToken.CanBeCanceled ? CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, clock.Token) : null;
        return new Deadline(linked, clock, (linked ?? clock).Token);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _source?.Dispose();
        _clock?.Dispose();
    }
}

using Provisioning.Device.Hub.Mqtt;

namespace Provisioning.Device.Hub;

/// <summary>The connection loop: connect, wait for a drop or the renewal time, drain, reconnect with backoff and jitter.</summary>
public sealed partial class DeviceClient
{
    private int _connections;

    /// <summary>The refusal that ended the connection loop, if any: what waiters see, even when the client is disposed from the
    /// reprovisioning hook.</summary>
    private HubException? _refusal;

    /// <summary>The <see cref="DeviceConnector"/>'s step on a refusal (removing the cache entry), run before the application's
    /// <see cref="DeviceClientOptions.ReprovisionRequired"/>.</summary>
    internal Func<HubRefusal, CancellationToken, ValueTask>? RefusalHook { get; set; }

    private async Task RunConnectionLoopAsync(CancellationToken cancellationToken)
    {
        CallbackOwner.Value = this;
        var failures = 0;
        while (!cancellationToken.IsCancellationRequested)
        {
            SetState(ConnectionState.Connecting, failures == 0 ? ConnectionChangeReason.ClientRequest : ConnectionChangeReason.ConnectionLost, null);
            HubSession session;
            using var activity = HubDiagnostics.Source.StartActivity("DeviceClient.Connect");
            activity?.SetTag("iothub.device_id", DeviceId);
            activity?.SetTag("iothub.transport", _options.Transport.ToString());
            try
            {
                session = await HubSession.ConnectAsync(HubHostName, DeviceId, _authentication, _options, OnMessageReceivedAsync, cancellationToken)
                    .ConfigureAwait(false);
            }
            catch (HubException ex) when (!ex.IsTransient)
            {
                activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, "refused");
                await RefuseAsync(ex, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OutOfMemoryException)
            {
                failures++;
                activity?.SetStatus(System.Diagnostics.ActivityStatusCode.Error, ex.GetType().Name);
                SetState(ConnectionState.Disconnected, ConnectionChangeReason.ConnectionLost, ex);
                await Task.Delay(BackoffDelay(failures), _time, cancellationToken).ConfigureAwait(false);
                continue;
            }

            activity?.Dispose();
            var reconnected = _connections++ > 0;
            failures = 0;
            Volatile.Write(ref _session, session);
            SetState(ConnectionState.Connected, ConnectionChangeReason.Connected, null);
            _ready.TrySetResult(session);
            if (reconnected && _desiredHandler is not null)
            {
                RequestDesiredResync();
            }

            var renewal = await WaitForDropOrRenewalAsync(session, cancellationToken).ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                // Disposal: DisposeAsync closes the session and fails the waiters. Ending without an exception spares the
                // process the unwinding (the first exceptions page in ≈ 1 MB of unwind data, see DisposeAsync).
                return;
            }

            // New operations wait for the next connection from here on.
            Volatile.Write(ref _ready, NewReady());
            if (renewal)
            {
                SetState(ConnectionState.Connecting, ConnectionChangeReason.TokenRenewal, null); // a SAS token or an issued certificate
                try
                {
                    await session.DrainAsync(_options.OperationTimeout, _time, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    HubClientLog.DrainTimedOut(_logger, DeviceId);
                }
            }
            else if (!cancellationToken.IsCancellationRequested)
            {
                failures = 1;
                SetState(ConnectionState.Disconnected, ConnectionChangeReason.ConnectionLost, null);
            }

            Interlocked.CompareExchange(ref _session, null, session);
            await session.DisposeAsync().ConfigureAwait(false);
            if (failures > 0)
            {
                await Task.Delay(BackoffDelay(failures), _time, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>Returns true when the token is due for renewal, false when the connection dropped.</summary>
    /// <remarks>Renewal when ≤ <see cref="DeviceClientOptions.RenewalThreshold"/> of the lifetime is left (dps-protocol.md §8: 15 %).</remarks>
    private async Task<bool> WaitForDropOrRenewalAsync(HubSession session, CancellationToken cancellationToken)
    {
        if (_authentication is HubAuthentication.IssuedCertificateAuthentication issued)
        {
            return await WaitForDropOrCertificateRenewalAsync(session, issued, cancellationToken).ConfigureAwait(false);
        }

        if (session.TokenExpiresAt is not { } expiresAt)
        {
            await session.Closed.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            return false;
        }

        var renewAt = expiresAt - (_options.SasTokenLifetime * _options.RenewalThreshold);
        return await WaitUntilAsync(renewAt, session, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Exponential backoff from <see cref="DeviceClientOptions.MinReconnectDelay"/>, capped, with "equal jitter"
    /// (half fixed, half random) so that many devices dropped together do not come back together.</summary>
    internal TimeSpan BackoffDelay(int failures)
    {
        var exponent = Math.Min(failures - 1, 20);
        var ceiling = Math.Min(_options.MaxReconnectDelay.Ticks, _options.MinReconnectDelay.Ticks * (1L << exponent));
        var jitter = Math.Clamp(_options.Jitter(), 0, 1);
        return TimeSpan.FromTicks((long)((ceiling / 2.0) + (ceiling / 2.0 * jitter)));
    }

    /// <summary>The hub refused the device: the state becomes <see cref="ConnectionState.Refused"/>, the reprovisioning hook runs,
    /// and only then do <see cref="OpenAsync"/> and the operations waiting for a connection fail, with an exception that carries
    /// the refusal (so a caller that sees the exception knows the hook has run and whether to go back to DPS).</summary>
    private async Task RefuseAsync(HubException cause, CancellationToken cancellationToken)
    {
        var refusal = new HubRefusal(HubHostName, DeviceId, cause.Status);
        var error = new HubException(cause.Message + (refusal.RequiresReprovisioning ? " The device must register with DPS again." : string.Empty),
            cause.Status, isTransient: false, cause)
        {
            Refusal = refusal,
        };
        Volatile.Write(ref _refusal, error);
        SetState(ConnectionState.Refused, ConnectionChangeReason.Refused, error);
        try
        {
            if (RefusalHook is { } own)
            {
                try
                {
                    await own(refusal, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
                {
                    HubClientLog.HandlerFailed(_logger, ex, nameof(DeviceConnector));
                }
            }

            if (_options.ReprovisionRequired is { } hook)
            {
                try
                {
                    await hook(refusal, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException and not OutOfMemoryException)
                {
                    HubClientLog.HandlerFailed(_logger, ex, nameof(DeviceClientOptions.ReprovisionRequired));
                }
            }
        }
        finally
        {
            // After the hook, whatever it did: the waiters see the refusal only once it has been acted on.
            Volatile.Read(ref _ready).TrySetException(error);
        }
    }
}

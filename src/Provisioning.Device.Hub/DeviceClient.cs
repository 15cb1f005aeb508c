using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet.Exceptions;
using Provisioning.Device.Hub.Mqtt;

namespace Provisioning.Device.Hub;

/// <summary>An authenticated IoT Hub device connection over MQTT 3.1.1: telemetry, cloud-to-device messages, twin and direct
/// methods, with SAS renewal, automatic reconnect and a reprovisioning hook.</summary>
/// <remarks>dps-protocol.md §8. Operations issued while disconnected wait for the next connection; a connection being renewed is
/// drained first, so messages sent around a renewal arrive exactly once. After a drop, a message whose acknowledgement was lost
/// is sent again (at least once).</remarks>
public sealed partial class DeviceClient : IAsyncDisposable
{
    private readonly HubAuthentication _authentication;
    private readonly bool _ownsAuthentication;
    private readonly DeviceClientOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _life = new();
    private TaskCompletionSource<HubSession> _ready = NewReady();
    private HubSession? _session;
    private Task? _connectionLoop;
    private Task? _dispatchers;
    private int _state = (int)ConnectionState.Created;

    /// <summary>Creates a client from explicit connection facts; nothing connects until <see cref="OpenAsync"/>.</summary>
    /// <param name="hubHostName">The assigned hub, e.g. <c>contoso.azure-devices.net</c>.</param>
    /// <param name="deviceId">The device id.</param>
    /// <param name="authentication">How the device authenticates; owned by the caller (dispose it after the client).</param>
    /// <param name="options">Options; defaults when null.</param>
    /// <exception cref="NotSupportedException">The transport is MQTT over WebSockets and the application was built with
    /// <c>Provisioning.Device.Hub.WebSockets.IsSupported</c> off.</exception>
    public DeviceClient(string hubHostName, string deviceId, HubAuthentication authentication, DeviceClientOptions? options = null)
        : this(hubHostName, deviceId, authentication, options, ownsAuthentication: false)
    {
    }

    private DeviceClient(string hubHostName, string deviceId, HubAuthentication authentication, DeviceClientOptions? options, bool ownsAuthentication)
    {
        DeviceVersionCheck.EnsureMatching();
        ArgumentException.ThrowIfNullOrWhiteSpace(hubHostName);
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        ArgumentNullException.ThrowIfNull(authentication);
        if (IdentityRules.CheckDeviceId(deviceId) is { } idProblem)
        {
            throw new ArgumentException($"The device id is invalid ({idProblem}): it must be {IdentityRules.DeviceIdRule}.", nameof(deviceId));
        }

        if (IdentityRules.CheckHubHostName(hubHostName) is { } hubProblem)
        {
            throw new ArgumentException($"The hub host name is invalid ({hubProblem}): it must be {IdentityRules.HubRule}.", nameof(hubHostName));
        }

        _options = options ?? new DeviceClientOptions();
        _options.Validate();
        if (_options.Transport == HubTransport.MqttWebSocket && !HubFeatures.IsWebSocketsSupported)
        {
            throw HubFeatures.WebSocketsRemoved();
        }

        HubHostName = hubHostName;
        DeviceId = deviceId;
        _authentication = authentication;
        _ownsAuthentication = ownsAuthentication;
        _time = _options.TimeProvider;
        _messages = NewQueue<(HubMessage, MQTTnet.MqttApplicationMessageReceivedEventArgs)>(_options.ReceiveQueueCapacity);
        _methodRequests = NewQueue<(MethodRequest, string)>(_options.ReceiveQueueCapacity);
        _methodRejections = NewQueue<string>(_options.ReceiveQueueCapacity);
        _desired = NewQueue<(string, byte[])>(_options.ReceiveQueueCapacity, BoundedChannelFullMode.DropOldest, OnDesiredDropped);
        _logger = _options.LoggerFactory?.CreateLogger<DeviceClient>() ?? NullLogger<DeviceClient>.Instance;
    }

    /// <summary>The hub.</summary>
    public string HubHostName { get; }

    /// <summary>The device id.</summary>
    public string DeviceId { get; }

    /// <summary>The connection state.</summary>
    public ConnectionState State => (ConnectionState)Volatile.Read(ref _state);

    /// <summary>Raised on every connection state change (on a background thread).</summary>
    public event EventHandler<ConnectionStateChangedEventArgs>? ConnectionStateChanged;

    /// <summary>Connects, retrying transient failures with backoff until connected or <paramref name="cancellationToken"/> fires.</summary>
    /// <remarks>Cancelling stops the wait, not the connection attempts: the client keeps connecting in the background (and
    /// operations wait for it) until it is disposed.</remarks>
    /// <exception cref="HubException">The hub refused the device (see <see cref="DeviceClientOptions.ReprovisionRequired"/>).</exception>
    public async Task OpenAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_life.IsCancellationRequested, this);
        if (Interlocked.CompareExchange(ref _connectionLoop, Task.CompletedTask, null) is not null)
        {
            throw new InvalidOperationException("The client is already open.");
        }

        _dispatchers = Task.WhenAll(RunMessageDispatcherAsync(_life.Token), RunDesiredDispatcherAsync(_life.Token), RunMethodDispatcherAsync(_life.Token),
            RunMethodRejectionsAsync(_life.Token));
        _connectionLoop = Task.Run(() => RunConnectionLoopAsync(_life.Token), CancellationToken.None);
        await WaitForSessionAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends a telemetry message with QoS 1; completes when the hub acknowledges it.</summary>
    /// <exception cref="ArgumentException">The payload exceeds <see cref="DeviceClientOptions.MaxMessageBytes"/>, or a property
    /// key is reserved.</exception>
    public async Task SendEventAsync(HubMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Body.Length > _options.MaxMessageBytes)
        {
            throw new ArgumentException($"The payload has {message.Body.Length} bytes; the limit is {_options.MaxMessageBytes}.", nameof(message));
        }

        var publish = new MQTTnet.MqttApplicationMessage
        {
            Topic = HubTopics.Telemetry(DeviceId, message),
            Payload = new System.Buffers.ReadOnlySequence<byte>(message.Body),
            QualityOfServiceLevel = MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce,
        };
        using var activity = HubDiagnostics.Source.StartActivity("DeviceClient.SendEvent");
        activity?.SetTag("iothub.device_id", DeviceId);
        await RunAsync(async (session, token) =>
        {
            HubDiagnostics.MessagesSent.Add(1);
            var result = await session.Client.PublishAsync(publish, token).ConfigureAwait(false);
            if (!result.IsSuccess)
            {
                throw new HubException($"The hub did not accept the message ({result.ReasonCode}).", (int)result.ReasonCode, isTransient: false);
            }

            HubDiagnostics.MessagesAcknowledged.Add(1);

            return true;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes the connection and stops the background work. Safe to call from a handler or the reprovisioning hook
    /// (the background work is then not awaited, as it is what is calling).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_life.IsCancellationRequested)
        {
            return;
        }

        var fromCallback = CallbackOwner.Value == this;
        await _life.CancelAsync().ConfigureAwait(false);
        CompleteQueues();
        var disposed = NewReady();
        disposed.SetException(new ObjectDisposedException(nameof(DeviceClient)));
        Interlocked.Exchange(ref _ready, disposed).TrySetException((Exception?)Volatile.Read(ref _refusal) ?? new ObjectDisposedException(nameof(DeviceClient)));
        if (!fromCallback)
        {
            await AwaitBackgroundWorkAsync().ConfigureAwait(false);
        }

        if (Interlocked.Exchange(ref _session, null) is { } session)
        {
            await session.DisposeAsync().ConfigureAwait(false);
        }

        // The loop may have swapped in a fresh one meanwhile (when not awaited): fail that too.
        Interlocked.Exchange(ref _ready, disposed).TrySetException(new ObjectDisposedException(nameof(DeviceClient)));
        FailPendingTwinRequests();
        if (_ownsAuthentication)
        {
            _authentication.Dispose();
        }

        SetState(ConnectionState.Closed, ConnectionChangeReason.ClientRequest, null);
    }

    private async Task AwaitBackgroundWorkAsync()
    {
        // _life is cancelled before this runs, so no resync starts after DesiredResyncTask() is read.
        foreach (var task in new[] { _connectionLoop, _dispatchers, DesiredResyncTask() })
        {
            if (task is null)
            {
                continue;
            }

            try
            {
                await task.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The loops end by cancellation; anything else they threw on the way out is only worth a log line now.
                if (ex is not OperationCanceledException)
                {
                    HubClientLog.StoppedWithError(_logger, ex);
                }
            }
        }
    }

    /// <summary>Marks the background flows that call application code, so that <see cref="DisposeAsync"/> called from there does
    /// not wait for itself.</summary>
    private static readonly AsyncLocal<DeviceClient?> CallbackOwner = new();

    /// <summary>Runs an operation on the current connection, waiting for one if needed, and again on the next connection if this one
    /// drops under it.</summary>
    private async Task<T> RunAsync<T>(Func<HubSession, CancellationToken, Task<T>> operation, CancellationToken cancellationToken)
    {
        while (true)
        {
            var session = await WaitForSessionAsync(cancellationToken).ConfigureAwait(false);
            if (!session.TryEnter())
            {
                await session.Retired.WaitAsync(cancellationToken).ConfigureAwait(false);
                continue;
            }

            try
            {
                return await operation(session, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (IsConnectionLoss(ex, session, cancellationToken))
            {
                HubClientLog.RetryingOnNextConnection(_logger, ex.GetType().Name);
            }
            finally
            {
                session.Exit();
            }

            await session.Retired.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static bool IsConnectionLoss(Exception ex, HubSession session, CancellationToken cancellationToken) =>
        !cancellationToken.IsCancellationRequested
        && (ex is MqttCommunicationException or IOException or ObjectDisposedException or ConnectionLostException
            || (ex is OperationCanceledException && session.Closed.IsCompleted));

    private Task<HubSession> WaitForSessionAsync(CancellationToken cancellationToken) =>
        Volatile.Read(ref _ready).Task.WaitAsync(cancellationToken);

    /// <summary>The items of <paramref name="reader"/> until <paramref name="cancellationToken"/> is cancelled (the client is
    /// disposed; <see cref="DisposeAsync"/> then completes the queues to wake the reader), and the end of the sequence rather than
    /// an <see cref="OperationCanceledException"/>: the dispatchers end without throwing, so that closing a client costs no
    /// exception unwinding (on a native build, the first exceptions of a process page in ≈ 1 MB of unwind data, much of a small
    /// device's RSS). Items still queued at disposal are not handed out. An error the queue was completed with still throws.</summary>
    private static async IAsyncEnumerable<T> ReadUntilCancelledAsync<T>(ChannelReader<T> reader,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        // The wait takes no token: a cancelled wait on a channel throws inside the channel; the completion ends it instead.
        while (!cancellationToken.IsCancellationRequested && await reader.WaitToReadAsync(CancellationToken.None).ConfigureAwait(false))
        {
            while (!cancellationToken.IsCancellationRequested && reader.TryRead(out var item))
            {
                yield return item;
            }
        }
    }

    /// <summary>Completes the dispatchers' queues once <see cref="_life"/> is cancelled, so that their readers wake and end
    /// (<see cref="ReadUntilCancelledAsync"/>); later writes are refused, as nothing would read them.</summary>
    private void CompleteQueues()
    {
        _messages.Writer.TryComplete();
        _methodRequests.Writer.TryComplete();
        _methodRejections.Writer.TryComplete();
        _desired.Writer.TryComplete();
    }

    private static TaskCompletionSource<HubSession> NewReady() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void SetState(ConnectionState state, ConnectionChangeReason reason, Exception? exception)
    {
        var previous = (ConnectionState)Interlocked.Exchange(ref _state, (int)state);
        if (previous == state && exception is null)
        {
            return;
        }

        HubClientLog.StateChanged(_logger, DeviceId, state, reason);
        HubDiagnostics.StateChanged(previous, state);
        try
        {
            ConnectionStateChanged?.Invoke(this, new ConnectionStateChangedEventArgs(state, reason, exception));
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            HubClientLog.HandlerFailed(_logger, ex, "ConnectionStateChanged");
        }
    }

    /// <summary>Signals that the session an operation ran on closed before it completed.</summary>
    private sealed class ConnectionLostException() : Exception("The connection closed before the operation completed.");

    /// <summary>A dispatch queue of <see cref="DeviceClientOptions.ReceiveQueueCapacity"/> items: the hub cannot outpace the
    /// application into unbounded memory. <c>TryWrite</c> fails when full (Wait mode), or the oldest item is dropped.</summary>
    private static Channel<T> NewQueue<T>(int capacity, BoundedChannelFullMode mode = BoundedChannelFullMode.Wait, Action<T>? dropped = null) =>
        Channel.CreateBounded(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = mode }, dropped);
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using MQTTnet;
using Provisioning.Device.Hub.Mqtt;

namespace Provisioning.Device.Hub;

/// <summary>The twin: GET, reported patches and desired-property pushes (dps-protocol.md §8).</summary>
public sealed partial class DeviceClient
{
    private readonly ConcurrentDictionary<long, TaskCompletionSource<(int Status, long? Version, byte[] Body)>> _twinRequests = new();
    /// <summary>Pushed patches; an item with an empty topic only wakes the dispatcher to take <see cref="_resyncDocument"/>.</summary>
    private readonly System.Threading.Channels.Channel<(string Topic, byte[] Body)> _desired;
    private Func<DesiredPropertyUpdate, CancellationToken, ValueTask>? _desiredHandler;
    private long _nextRid;
    private long _lastDesiredVersion;
    private readonly Lock _resyncGate = new();
    private Task _resync = Task.CompletedTask;
    private bool _resyncRunning;
    private bool _resyncAgain;
    private (JsonObject Desired, long Version, long Drops)? _resyncDocument;
    private long _desiredDrops;
    private long _deliveredDrops;

    /// <summary>Sets the handler of desired-property patches. Patches are delivered one at a time in version order; a patch whose
    /// version is not newer than the last delivered one is skipped.</summary>
    public void SetDesiredPropertyUpdateHandler(Func<DesiredPropertyUpdate, CancellationToken, ValueTask>? handler) => _desiredHandler = handler;

    /// <summary>Gets the twin.</summary>
    /// <exception cref="HubException">The hub answered an error status (429 is transient) or a malformed document.</exception>
    public async Task<Twin> GetTwinAsync(CancellationToken cancellationToken = default)
    {
        var (_, _, body) = await TwinRequestAsync(HubTopics.TwinGet, [], cancellationToken).ConfigureAwait(false);
        return ReadTwin(body);
    }

    /// <summary>Reads a twin document (<c>{"desired":{…},"reported":{…}}</c>, each with its <c>$version</c>).</summary>
    /// <exception cref="HubException">The document is malformed (never transient).</exception>
    internal static Twin ReadTwin(ReadOnlySpan<byte> body)
    {
        var document = ParseObject(body, "a twin");
        var desired = document["desired"] as JsonObject ?? [];
        var reported = document["reported"] as JsonObject ?? [];
        var desiredVersion = TakeVersion(desired);
        var reportedVersion = TakeVersion(reported);
        return new Twin((JsonObject)desired.DeepClone(), desiredVersion, (JsonObject)reported.DeepClone(), reportedVersion);
    }

    /// <summary>Patches the reported properties and returns the new reported version.</summary>
    public async Task<long> UpdateReportedPropertiesAsync(JsonObject patch, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(patch);
        var body = System.Text.Encoding.UTF8.GetBytes(patch.ToJsonString());
        var (_, version, _) = await TwinRequestAsync(HubTopics.TwinPatchReported, body, cancellationToken).ConfigureAwait(false);
        return version ?? throw new HubException("The hub acknowledged the patch without a version.", 0, isTransient: false);
    }

    private async Task<(int Status, long? Version, byte[] Body)> TwinRequestAsync(Func<long, string> topic, byte[] body, CancellationToken cancellationToken)
    {
        using var activity = HubDiagnostics.Source.StartActivity("DeviceClient.TwinRequest");
        activity?.SetTag("iothub.device_id", DeviceId);
        var (status, version, answer) = await RunAsync(async (session, token) =>
        {
            var rid = Interlocked.Increment(ref _nextRid);
            var pending = new TaskCompletionSource<(int, long?, byte[])>(TaskCreationOptions.RunContinuationsAsynchronously);
            _twinRequests[rid] = pending;
            try
            {
                var request = new MqttApplicationMessage
                {
                    Topic = topic(rid),
                    Payload = new System.Buffers.ReadOnlySequence<byte>(body),
                    QualityOfServiceLevel = MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce,
                };
                await session.Client.PublishAsync(request, token).ConfigureAwait(false);
                var first = await Task.WhenAny(pending.Task, session.Closed).WaitAsync(_options.OperationTimeout, _time, token).ConfigureAwait(false);
                return first == pending.Task ? await pending.Task.ConfigureAwait(false) : throw new ConnectionLostException();
            }
            catch (TimeoutException ex)
            {
                throw new HubException("The hub did not answer the twin request in time.", 0, isTransient: true, ex);
            }
            finally
            {
                _twinRequests.TryRemove(rid, out _);
            }
        }, cancellationToken).ConfigureAwait(false);

        // dps-protocol.md §8: ≥ 300 fails; 429 is throttling (transient).
        return status >= 300
            ? throw new HubException(string.Create(CultureInfo.InvariantCulture, $"The hub answered the twin request with {status}."), status, status is 429 or >= 500)
            : (status, version, answer);
    }

    private void CompleteTwinRequest(string topic, byte[] body)
    {
        if (!HubTopics.TryParseTwinStatus(topic, out var status)
            || !long.TryParse(HubTopics.QueryValue(topic, "$rid"), NumberStyles.None, CultureInfo.InvariantCulture, out var rid))
        {
            HubClientLog.Dropped(_logger, topic, "malformed twin response topic");
            return;
        }

        long? version = long.TryParse(HubTopics.QueryValue(topic, "$version"), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : null;
        if (_twinRequests.TryGetValue(rid, out var pending))
        {
            pending.TrySetResult((status, version, body));
        }
        else
        {
            HubClientLog.Dropped(_logger, topic, "no twin request is waiting for this answer");
        }
    }

    /// <summary>On dispose: twin requests still waiting for an answer fail now rather than at their timeout.</summary>
    private void FailPendingTwinRequests()
    {
        foreach (var (rid, pending) in _twinRequests)
        {
            if (_twinRequests.TryRemove(rid, out _))
            {
                pending.TrySetException(new ObjectDisposedException(nameof(DeviceClient)));
            }
        }
    }

    /// <summary>Delivers desired patches one at a time in version order. A malformed patch or a failing handler costs that patch
    /// only: the loop ends only when the client is disposed.</summary>
    private async Task RunDesiredDispatcherAsync(CancellationToken cancellationToken)
    {
        CallbackOwner.Value = this;
        await foreach (var (topic, body) in ReadUntilCancelledAsync(_desired.Reader, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                if (TakeResyncDocument() is { } document)
                {
                    await DispatchDocumentAsync(document.Desired, document.Version, document.Drops, cancellationToken).ConfigureAwait(false);
                }

                if (topic.Length > 0)
                {
                    await DispatchDesiredAsync(topic, body, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OutOfMemoryException)
            {
                HubClientLog.HandlerFailed(_logger, ex, "desired properties");
            }
        }
    }

    private async Task DispatchDesiredAsync(string topic, byte[] body, CancellationToken cancellationToken)
    {
        JsonObject patch;
        long version;
        try
        {
            (patch, version) = ReadDesiredPatch(body);
        }
        catch (Exception ex) when (ex is HubException or ArgumentException or InvalidOperationException)
        {
            // A JsonObject may surface a defect of the document only when first read.
            HubClientLog.Dropped(_logger, topic, ex.Message);
            return;
        }

        if (version == 0 && long.TryParse(HubTopics.QueryValue(topic, "$version"), NumberStyles.None, CultureInfo.InvariantCulture, out var fromTopic))
        {
            version = fromTopic;
        }

        if (version <= _lastDesiredVersion)
        {
            HubClientLog.StaleDesired(_logger, version, _lastDesiredVersion);
            return;
        }

        _lastDesiredVersion = version;
        if (_desiredHandler is { } handler)
        {
            await handler(new DesiredPropertyUpdate(patch, version), cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>A full queue dropped its oldest patch: its values are only in the hub's document now, so fetch that.</summary>
    private void OnDesiredDropped((string Topic, byte[] Body) item)
    {
        if (item.Topic.Length > 0)
        {
            Interlocked.Increment(ref _desiredDrops);
            RequestDesiredResync();
        }
    }

    /// <summary>Delivers a fetched desired document as one patch when it is newer than the last delivered version, or as new
    /// and fetched after a patch was dropped (it then holds the dropped values).</summary>
    private async Task DispatchDocumentAsync(JsonObject desired, long version, long drops, CancellationToken cancellationToken)
    {
        var fillsGap = drops > _deliveredDrops;
        if (version < _lastDesiredVersion && fillsGap)
        {
            // Fetched before patches that were delivered since: only a newer document holds the dropped values consistently.
            RequestDesiredResync();
            return;
        }

        if (version < _lastDesiredVersion || (version == _lastDesiredVersion && !fillsGap))
        {
            HubClientLog.StaleDesired(_logger, version, _lastDesiredVersion);
            return;
        }

        _lastDesiredVersion = version;
        _deliveredDrops = drops;
        if (_desiredHandler is { } handler)
        {
            await handler(new DesiredPropertyUpdate(desired, version), cancellationToken).ConfigureAwait(false);
        }
    }

    private (JsonObject Desired, long Version, long Drops)? TakeResyncDocument()
    {
        lock (_resyncGate)
        {
            var document = _resyncDocument;
            _resyncDocument = null;
            return document;
        }
    }

    /// <summary>Starts a fetch of the whole desired document unless one is running (which then runs once more). The task is
    /// tracked: <see cref="DisposeAsync"/> waits for it, so nothing touches the client after that returns.</summary>
    private void RequestDesiredResync()
    {
        lock (_resyncGate)
        {
            if (_resyncRunning)
            {
                _resyncAgain = true;
                return;
            }

            if (_life.IsCancellationRequested)
            {
                return;
            }

            _resyncRunning = true;
            _resync = Task.Run(() => RunDesiredResyncAsync(_life.Token), CancellationToken.None);
        }
    }

    private async Task RunDesiredResyncAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            await ResyncDesiredAsync(cancellationToken).ConfigureAwait(false);
            lock (_resyncGate)
            {
                if (!_resyncAgain || cancellationToken.IsCancellationRequested)
                {
                    _resyncRunning = false;
                    return;
                }

                _resyncAgain = false;
            }
        }
    }

    /// <summary>The resync in flight, if any, for <see cref="DisposeAsync"/> to wait for.</summary>
    private Task DesiredResyncTask()
    {
        lock (_resyncGate)
        {
            return _resync;
        }
    }

    /// <summary>Desired patches pushed while the device was offline, or dropped from a full queue, are lost; then the whole
    /// desired document is fetched and delivered as one patch (it holds every current value).</summary>
    private async Task ResyncDesiredAsync(CancellationToken cancellationToken)
    {
        try
        {
            var drops = Interlocked.Read(ref _desiredDrops);
            var (_, _, body) = await TwinRequestAsync(HubTopics.TwinGet, [], cancellationToken).ConfigureAwait(false);
            if (ParseObject(body, "a twin")["desired"] is JsonObject desired && TakeVersion(desired) is var version and > 0)
            {
                lock (_resyncGate)
                {
                    // The newest fetch wins; the queue item only wakes the dispatcher (and may itself give way when full).
                    _resyncDocument = ((JsonObject)desired.DeepClone(), version, drops);
                }

                _desired.Writer.TryWrite((string.Empty, []));
            }
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // Nothing waits for this task but DisposeAsync: every failure (cancellation on dispose included) ends here, logged.
            HubClientLog.ResyncFailed(_logger, ex);
        }
    }

    /// <summary>Reads a desired-properties patch and takes its <c>$version</c> out (0 when it has none).</summary>
    internal static (JsonObject Patch, long Version) ReadDesiredPatch(ReadOnlySpan<byte> body)
    {
        var patch = ParseObject(body, "a desired-properties patch");
        return (patch, TakeVersion(patch));
    }

    private static long TakeVersion(JsonObject properties)
    {
        long version = 0;
        if (properties["$version"] is JsonValue value && value.TryGetValue<long>(out var v))
        {
            version = v;
        }

        properties.Remove("$version");
        return version;
    }
}

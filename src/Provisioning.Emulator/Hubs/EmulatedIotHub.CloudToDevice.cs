using MQTTnet.Server;

namespace Provisioning.Emulator.Hubs;

/// <summary>Cloud-to-device messages: a bounded queue per device, delivered while the device is subscribed to
/// <c>devices/{id}/messages/devicebound/#</c>, held until its PUBACK or expiry.</summary>
/// <remarks>dps-protocol.md §8 (C2D row: a QoS 1 PUBACK completes the message). As IoT Hub: at most
/// <see cref="EmulatedIotHubOptions.CloudToDeviceQueueDepth"/> messages per device (50), a full queue refuses the send with 403004,
/// a message that is not acknowledged within its time to live expires, and one sent on a connection that drops before its PUBACK
/// is sent again on the next connection.</remarks>
public sealed partial class EmulatedIotHub
{
    /// <summary>Queues a cloud-to-device message and returns its message id without waiting for delivery: a connected device gets
    /// it at once, an offline one when it next connects and subscribes.</summary>
    /// <exception cref="HubCloudToDeviceException">The device's queue is full (<see cref="HubCloudToDeviceFailure.QueueFull"/>, 403004).</exception>
    /// <exception cref="ArgumentException">A message with the same id is already queued for the device.</exception>
    public async Task<string> EnqueueCloudToDeviceAsync(string deviceId, HubCloudMessage message, CancellationToken cancellationToken = default) =>
        (await EnqueueAsync(deviceId, message, cancellationToken).ConfigureAwait(false)).MessageId;

    /// <summary>Sends a cloud-to-device message and completes when the device acknowledges it (PUBACK). To an offline device the
    /// message is queued and delivered on its next connection.</summary>
    /// <remarks>Cancelling stops the wait only: the message stays queued until it is acknowledged or expires, as a message IoT
    /// Hub accepted cannot be recalled. Use <see cref="EnqueueCloudToDeviceAsync"/> not to wait at all.</remarks>
    /// <exception cref="HubCloudToDeviceException">The device's queue is full (403004), or the message expired
    /// (<see cref="HubCloudMessage.TimeToLive"/>) before the device acknowledged it.</exception>
    /// <exception cref="ArgumentException">A message with the same id is already queued for the device.</exception>
    public async Task SendCloudToDeviceAsync(string deviceId, HubCloudMessage message, CancellationToken cancellationToken = default)
    {
        var entry = await EnqueueAsync(deviceId, message, cancellationToken).ConfigureAwait(false);
        var timeProvider = _options.TimeProvider;
        bool delivered;
        try
        {
            var left = entry.ExpiresAt - timeProvider.GetUtcNow();
            delivered = await entry.Outcome.Task.WaitAsync(left > TimeSpan.Zero ? left : TimeSpan.Zero, timeProvider, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Acknowledged at the last moment: Expire finds nothing to drop and the outcome is already true.
            delivered = !State(deviceId).CloudMessages.Expire(entry) && await entry.Outcome.Task.ConfigureAwait(false);
        }

        if (!delivered)
        {
            throw new HubCloudToDeviceException(deviceId, entry.MessageId, HubCloudToDeviceFailure.Expired,
                $"Cloud-to-device message '{entry.MessageId}' to '{deviceId}' expired before the device acknowledged it.");
        }
    }

    /// <summary>How many cloud-to-device messages wait for the device's acknowledgement (queued or in flight, not expired).</summary>
    public int GetCloudToDeviceQueueLength(string deviceId) =>
        _devices.TryGetValue(deviceId, out var state) ? state.CloudMessages.Count(_options.TimeProvider.GetUtcNow()) : 0;

    private async Task<HubCloudToDeviceQueue.Entry> EnqueueAsync(string deviceId, HubCloudMessage message, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        ArgumentNullException.ThrowIfNull(message);
        if (message.TimeToLive is { } ttl)
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(ttl, TimeSpan.Zero, nameof(message));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(ttl, EmulatedIotHubOptions.MaxCloudToDeviceTimeToLive, nameof(message));
        }

        cancellationToken.ThrowIfCancellationRequested();
        var messageId = message.MessageId ?? NextId();
        var properties = new List<KeyValuePair<string, string>>(message.Properties) { new("$.mid", messageId) };
        if (message.CorrelationId is { } correlationId)
        {
            properties.Add(new("$.cid", correlationId));
        }

        properties.Add(new("$.to", $"/devices/{deviceId}/messages/deviceBound"));
        var now = _options.TimeProvider.GetUtcNow();
        var state = State(deviceId);
        var entry = state.CloudMessages.TryAdd(messageId, HubTopics.DeviceBound(deviceId) + HubPropertyBag.Format(properties), message.Body.ToArray(),
            now + (message.TimeToLive ?? _options.CloudToDeviceTimeToLive), now)
            ?? throw new HubCloudToDeviceException(deviceId, messageId, HubCloudToDeviceFailure.QueueFull,
                $"Device '{deviceId}' already has {_options.CloudToDeviceQueueDepth} cloud-to-device messages queued (403004, device maximum queue depth exceeded).");
        await DeliverQueuedAsync(deviceId, state, newRound: false, cancellationToken).ConfigureAwait(false);
        return entry;
    }

    /// <summary>A device subscribed to its C2D topic: a new delivery round sends it everything queued, including messages an
    /// earlier connection received but never acknowledged.</summary>
    private async Task OnClientSubscribedAsync(ClientSubscribedTopicEventArgs e)
    {
        if (e.TopicFilter.Topic == HubTopics.DeviceBound(e.ClientId) + "#" && e.SessionItems.Contains(DeviceItem))
        {
            var state = State(e.ClientId);
            state.CloudSubscribed = true;
            await DeliverQueuedAsync(e.ClientId, state, newRound: true, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Sends the queued messages not yet sent in this delivery round, oldest first, when the device is subscribed.</summary>
    /// <remarks>The message is queued before this runs and the subscription flag is set before a round starts, so a message
    /// enqueued while the device subscribes goes out in one of the two passes (the gate keeps them in order).</remarks>
    private async Task DeliverQueuedAsync(string deviceId, DeviceState state, bool newRound, CancellationToken cancellationToken)
    {
        if (!state.CloudSubscribed)
        {
            return;
        }

        await state.DeliveryGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (newRound)
            {
                state.DeliveryRound++;
            }

            // TakeUnsent marks the whole batch as sent in this round, so the batch is not abandoned halfway when the caller
            // who triggered it stops waiting: the rest would otherwise sit until the device reconnects, or expire.
            foreach (var entry in state.CloudMessages.TakeUnsent(state.DeliveryRound, _options.TimeProvider.GetUtcNow()))
            {
                await SendAsync(deviceId, entry.Topic, entry.Body, CancellationToken.None).ConfigureAwait(false);
            }
        }
        finally
        {
            state.DeliveryGate.Release();
        }
    }

    private Task OnClientAcknowledgedAsync(ClientAcknowledgedPublishPacketEventArgs e)
    {
        var topic = e.PublishPacket.Topic;
        var prefix = HubTopics.DeviceBound(e.ClientId);
        if (topic.StartsWith(prefix, StringComparison.Ordinal)
            && HubPropertyBag.Parse(topic.AsSpan(prefix.Length)).GetValueOrDefault("$.mid") is { } messageId
            && _devices.TryGetValue(e.ClientId, out var state))
        {
            state.CloudMessages.Complete(messageId);
        }

        return Task.CompletedTask;
    }
}

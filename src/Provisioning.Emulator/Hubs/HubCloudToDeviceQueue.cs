namespace Provisioning.Emulator.Hubs;

/// <summary>One device's cloud-to-device queue: bounded, with a time to live per message, holding each message until the device
/// acknowledges it.</summary>
/// <remarks>As IoT Hub: a message counts against the depth from enqueue until its PUBACK (queued or in flight), and a message
/// not acknowledged before its expiry is dropped. A message sent on a connection that dropped before the PUBACK is sent again on
/// the next one (at least once): each entry remembers the delivery round (<see cref="TakeUnsent"/>) it last went out in.</remarks>
internal sealed class HubCloudToDeviceQueue(int capacity)
{
    private readonly Lock _gate = new();
    private readonly List<Entry> _entries = [];

    /// <summary>A queued message; <see cref="Outcome"/> completes with true when acknowledged, false when it expired.</summary>
    public sealed class Entry(string messageId, string topic, byte[] body, DateTimeOffset expiresAt)
    {
        public string MessageId { get; } = messageId;

        public string Topic { get; } = topic;

        public byte[] Body { get; } = body;

        public DateTimeOffset ExpiresAt { get; } = expiresAt;

        public TaskCompletionSource<bool> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>The delivery round the message last went out in; -1 before its first.</summary>
        internal long Round = -1;
    }

    /// <summary>Adds a message; returns null when the queue already holds <c>capacity</c> live messages.</summary>
    /// <exception cref="ArgumentException">A message with this id is already queued for the device.</exception>
    public Entry? TryAdd(string messageId, string topic, byte[] body, DateTimeOffset expiresAt, DateTimeOffset now)
    {
        lock (_gate)
        {
            PurgeExpired(now);
            if (_entries.Exists(e => e.MessageId == messageId))
            {
                throw new ArgumentException($"Message id '{messageId}' is already queued for this device.", nameof(messageId));
            }

            if (_entries.Count >= capacity)
            {
                return null;
            }

            var entry = new Entry(messageId, topic, body, expiresAt);
            _entries.Add(entry);
            return entry;
        }
    }

    /// <summary>The live messages not yet sent in delivery round <paramref name="round"/>, oldest first, now marked as sent in it.</summary>
    public List<Entry> TakeUnsent(long round, DateTimeOffset now)
    {
        lock (_gate)
        {
            PurgeExpired(now);
            var unsent = _entries.FindAll(e => e.Round != round);
            foreach (var entry in unsent)
            {
                entry.Round = round;
            }

            return unsent;
        }
    }

    /// <summary>The device acknowledged the message; returns whether it was still queued.</summary>
    public bool Complete(string messageId)
    {
        Entry? done;
        lock (_gate)
        {
            var index = _entries.FindIndex(e => e.MessageId == messageId);
            if (index < 0)
            {
                return false;
            }

            done = _entries[index];
            _entries.RemoveAt(index);
        }

        done.Outcome.TrySetResult(true);
        return true;
    }

    /// <summary>Drops a message whose time to live ran out; returns false when it had been acknowledged first.</summary>
    public bool Expire(Entry entry)
    {
        lock (_gate)
        {
            if (!_entries.Remove(entry))
            {
                return false;
            }
        }

        entry.Outcome.TrySetResult(false);
        return true;
    }

    /// <summary>How many live messages (queued or in flight) the queue holds.</summary>
    public int Count(DateTimeOffset now)
    {
        lock (_gate)
        {
            PurgeExpired(now);
            return _entries.Count;
        }
    }

    private void PurgeExpired(DateTimeOffset now)
    {
        _entries.RemoveAll(e =>
        {
            if (e.ExpiresAt > now)
            {
                return false;
            }

            e.Outcome.TrySetResult(false);
            return true;
        });
    }
}

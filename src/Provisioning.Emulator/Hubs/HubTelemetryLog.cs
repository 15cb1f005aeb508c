using System.Threading.Channels;

namespace Provisioning.Emulator.Hubs;

/// <summary>The telemetry one device sent: a list to read and a queue to await.</summary>
internal sealed class HubTelemetryLog
{
    private readonly Lock _gate = new();
    private readonly List<HubTelemetryMessage> _all = [];
    private readonly Channel<HubTelemetryMessage> _next = Channel.CreateUnbounded<HubTelemetryMessage>(new() { SingleWriter = false });

    public void Add(HubTelemetryMessage message)
    {
        lock (_gate)
        {
            _all.Add(message);
        }

        _next.Writer.TryWrite(message);
    }

    public IReadOnlyList<HubTelemetryMessage> Snapshot()
    {
        lock (_gate)
        {
            return [.. _all];
        }
    }

    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _all.Count;
            }
        }
    }

    public ValueTask<HubTelemetryMessage> ReadNextAsync(CancellationToken cancellationToken) => _next.Reader.ReadAsync(cancellationToken);
}

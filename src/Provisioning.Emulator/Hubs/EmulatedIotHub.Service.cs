using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Provisioning.Emulator.Hubs;

/// <summary>The service side: what a back end does with the hub (read telemetry, send C2D, update twins, invoke methods).</summary>
public sealed partial class EmulatedIotHub
{
    private readonly ConcurrentDictionary<(string DeviceId, string Rid), TaskCompletionSource<HubMethodResult>> _pendingMethods = new();
    private long _nextId;

    /// <summary>All telemetry the device sent so far, in arrival order.</summary>
    public IReadOnlyList<HubTelemetryMessage> GetTelemetry(string deviceId) => State(deviceId).Telemetry.Snapshot();

    /// <summary>How many telemetry messages the device sent so far.</summary>
    public int GetTelemetryCount(string deviceId) => State(deviceId).Telemetry.Count;

    /// <summary>Waits for the device's next telemetry message; each message is returned once.</summary>
    public ValueTask<HubTelemetryMessage> ReadTelemetryAsync(string deviceId, CancellationToken cancellationToken = default) =>
        State(deviceId).Telemetry.ReadNextAsync(cancellationToken);

    /// <summary>The device's twin.</summary>
    public async Task<HubTwinSnapshot> GetTwinAsync(string deviceId, CancellationToken cancellationToken = default) =>
        (await TwinAsync(deviceId, cancellationToken).ConfigureAwait(false)).Snapshot();

    /// <summary>Patches the desired properties, pushes the patch to the device when it is connected, and returns the new version.</summary>
    public async Task<long> UpdateDesiredAsync(string deviceId, string patchJson, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(patchJson);
        var twin = await TwinAsync(deviceId, cancellationToken).ConfigureAwait(false);
        var (version, push) = twin.PatchDesired(Encoding.UTF8.GetBytes(patchJson));
        if (IsConnected(deviceId))
        {
            await SendAsync(deviceId, $"{HubTopics.DesiredPrefix}?$version={version}", Encoding.UTF8.GetBytes(push), cancellationToken)
                .ConfigureAwait(false);
        }

        return version;
    }

    /// <summary>Invokes a direct method. A device that is not connected answers 404; no answer within <paramref name="timeout"/> is 504.</summary>
    public async Task<HubMethodResult> InvokeMethodAsync(string deviceId, string methodName, string payloadJson, TimeSpan timeout,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        ArgumentException.ThrowIfNullOrEmpty(methodName);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(timeout, TimeSpan.Zero);
        if (!IsConnected(deviceId))
        {
            return new HubMethodResult(404, "{\"message\":\"The device is not online.\"}");
        }

        var rid = NextId();
        var answer = new TaskCompletionSource<HubMethodResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pendingMethods[(deviceId, rid)] = answer;
        try
        {
            await SendAsync(deviceId, $"{HubTopics.MethodRequestPrefix}{Uri.EscapeDataString(methodName)}/?$rid={rid}",
                Encoding.UTF8.GetBytes(payloadJson), cancellationToken).ConfigureAwait(false);
            return await answer.Task.WaitAsync(timeout, _options.TimeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return new HubMethodResult(504, "{\"message\":\"The device did not answer in time.\"}");
        }
        finally
        {
            _pendingMethods.TryRemove((deviceId, rid), out _);
        }
    }

    /// <summary>Fault injection for tests: the device's next <paramref name="count"/> twin requests are answered with
    /// <paramref name="status"/> (e.g. 429 throttling) and change nothing.</summary>
    public void FailTwinRequests(string deviceId, int status, int count = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(status, 300);
        for (var i = 0; i < count; i++)
        {
            State(deviceId).TwinFaults.Enqueue(status);
        }
    }

    /// <summary>Fault injection for tests: publishes raw bytes to one device on any topic.</summary>
    public Task PublishRawAsync(string deviceId, string topic, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        ArgumentException.ThrowIfNullOrEmpty(topic);
        return SendAsync(deviceId, topic, payload.ToArray(), cancellationToken);
    }

    private string NextId() => Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture);
}

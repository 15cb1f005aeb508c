using System.Collections.Concurrent;

namespace Provisioning.Emulator.Hubs;

/// <summary>An <see cref="IHubDeviceRegistry"/> held in memory, for tests and samples that run without the DPS store.</summary>
public sealed class InMemoryHubDeviceRegistry : IHubDeviceRegistry
{
    private readonly ConcurrentDictionary<(string Hub, string DeviceId), HubDevice> _devices = new(KeyComparer.Instance);

    /// <inheritdoc />
    public ValueTask<HubDevice?> FindAsync(string hubHostName, string deviceId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(hubHostName);
        ArgumentException.ThrowIfNullOrEmpty(deviceId);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(_devices.TryGetValue((hubHostName, deviceId), out var device) ? device : null);
    }

    /// <inheritdoc />
    public ValueTask UpsertAsync(HubDevice device, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(device);
        cancellationToken.ThrowIfCancellationRequested();
        _devices[(device.HubHostName, device.DeviceId)] = device;
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public ValueTask<bool> RemoveAsync(string hubHostName, string deviceId, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(_devices.TryRemove((hubHostName, deviceId), out _));
    }

    /// <summary>Host names compare without case (DNS); device ids are case-sensitive (IoT Hub).</summary>
    private sealed class KeyComparer : IEqualityComparer<(string Hub, string DeviceId)>
    {
        public static readonly KeyComparer Instance = new();

        public bool Equals((string Hub, string DeviceId) x, (string Hub, string DeviceId) y) =>
            string.Equals(x.Hub, y.Hub, StringComparison.OrdinalIgnoreCase) && string.Equals(x.DeviceId, y.DeviceId, StringComparison.Ordinal);

        public int GetHashCode((string Hub, string DeviceId) obj) =>
            HashCode.Combine(StringComparer.OrdinalIgnoreCase.GetHashCode(obj.Hub), StringComparer.Ordinal.GetHashCode(obj.DeviceId));
    }
}

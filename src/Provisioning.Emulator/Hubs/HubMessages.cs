namespace Provisioning.Emulator.Hubs;

/// <summary>A device-to-cloud message the emulated hub received.</summary>
/// <param name="DeviceId">The sending device.</param>
/// <param name="Body">The payload.</param>
/// <param name="Properties">The application properties.</param>
/// <param name="SystemProperties">The system properties, by their wire keys (<c>$.mid</c>, <c>$.cid</c>, <c>$.ct</c>, <c>$.ce</c>, …).</param>
/// <param name="EnqueuedAt">When the hub accepted it (the hub's clock).</param>
public sealed record HubTelemetryMessage(
    string DeviceId,
    ReadOnlyMemory<byte> Body,
    IReadOnlyDictionary<string, string> Properties,
    IReadOnlyDictionary<string, string> SystemProperties,
    DateTimeOffset EnqueuedAt)
{
    /// <summary>The message id (<c>$.mid</c>), if any.</summary>
    public string? MessageId => SystemProperties.GetValueOrDefault("$.mid");

    /// <summary>The correlation id (<c>$.cid</c>), if any.</summary>
    public string? CorrelationId => SystemProperties.GetValueOrDefault("$.cid");

    /// <summary>The content type (<c>$.ct</c>), if any.</summary>
    public string? ContentType => SystemProperties.GetValueOrDefault("$.ct");

    /// <summary>The content encoding (<c>$.ce</c>), if any.</summary>
    public string? ContentEncoding => SystemProperties.GetValueOrDefault("$.ce");
}

/// <summary>A cloud-to-device message to send.</summary>
/// <param name="Body">The payload.</param>
public sealed record HubCloudMessage(ReadOnlyMemory<byte> Body)
{
    /// <summary>The message id; the hub makes one up when null.</summary>
    public string? MessageId { get; init; }

    /// <summary>The correlation id, if any.</summary>
    public string? CorrelationId { get; init; }

    /// <summary>The application properties.</summary>
    public IReadOnlyDictionary<string, string> Properties { get; init; } = new Dictionary<string, string>();

    /// <summary>How long the message may wait in the device's queue before it expires unacknowledged; null takes
    /// <see cref="EmulatedIotHubOptions.CloudToDeviceTimeToLive"/>. At most <see cref="EmulatedIotHubOptions.MaxCloudToDeviceTimeToLive"/>.</summary>
    public TimeSpan? TimeToLive { get; init; }
}

/// <summary>A device's answer to a direct method.</summary>
/// <param name="Status">The status the device chose (501 when it has no such method).</param>
/// <param name="Payload">The JSON payload it returned.</param>
public sealed record HubMethodResult(int Status, string Payload);

/// <summary>A snapshot of a device twin.</summary>
/// <param name="DesiredJson">The desired properties, including <c>$version</c>.</param>
/// <param name="ReportedJson">The reported properties, including <c>$version</c>.</param>
/// <param name="DesiredVersion">The desired version.</param>
/// <param name="ReportedVersion">The reported version.</param>
public sealed record HubTwinSnapshot(string DesiredJson, string ReportedJson, long DesiredVersion, long ReportedVersion);

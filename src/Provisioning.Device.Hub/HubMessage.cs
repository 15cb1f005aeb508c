namespace Provisioning.Device.Hub;

/// <summary>A device-to-cloud or cloud-to-device message: a body, system properties and application properties.</summary>
/// <remarks>dps-protocol.md §8: properties travel in the topic's property bag; system keys are <c>$.mid</c>, <c>$.cid</c>,
/// <c>$.ct</c>, <c>$.ce</c> and others.</remarks>
public sealed class HubMessage
{
    /// <summary>Creates a message.</summary>
    public HubMessage(ReadOnlyMemory<byte> body) => Body = body;

    /// <summary>The payload.</summary>
    public ReadOnlyMemory<byte> Body { get; }

    /// <summary>The message id (<c>$.mid</c>).</summary>
    public string? MessageId { get; set; }

    /// <summary>The correlation id (<c>$.cid</c>).</summary>
    public string? CorrelationId { get; set; }

    /// <summary>The content type (<c>$.ct</c>), e.g. <c>application/json</c>.</summary>
    public string? ContentType { get; set; }

    /// <summary>The content encoding (<c>$.ce</c>), e.g. <c>utf-8</c>.</summary>
    public string? ContentEncoding { get; set; }

    /// <summary>Application properties. Keys may not start with <c>$.</c> (reserved for system properties).</summary>
    public IDictionary<string, string> Properties { get; } = new Dictionary<string, string>(StringComparer.Ordinal);

    /// <summary>On a received message, the other system properties the hub sent (<c>$.to</c>, <c>$.exp</c>, …), by wire key.</summary>
    public IReadOnlyDictionary<string, string> SystemProperties { get; internal set; } = EmptyProperties;

    private static readonly Dictionary<string, string> EmptyProperties = new(StringComparer.Ordinal);
}

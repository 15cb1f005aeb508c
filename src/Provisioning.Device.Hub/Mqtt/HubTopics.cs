using System.Globalization;
using System.Text;

namespace Provisioning.Device.Hub.Mqtt;

/// <summary>The device-side topic names.</summary>
/// <remarks>dps-protocol.md §8, the feature table. Topic names may not exceed 65535 bytes (MQTT).</remarks>
internal static class HubTopics
{
    public const int MaxTopicBytes = 65535;
    public const string TwinResponsePrefix = "$iothub/twin/res/";
    public const string DesiredPrefix = "$iothub/twin/PATCH/properties/desired/";
    public const string MethodRequestPrefix = "$iothub/methods/POST/";

    public static string DeviceBoundPrefix(string deviceId) => $"devices/{deviceId}/messages/devicebound/";

    public static string[] Subscriptions(string deviceId) =>
        [DeviceBoundPrefix(deviceId) + "#", TwinResponsePrefix + "#", DesiredPrefix + "#", MethodRequestPrefix + "#"];

    public static string TwinGet(long rid) => string.Create(CultureInfo.InvariantCulture, $"$iothub/twin/GET/?$rid={rid}");

    public static string TwinPatchReported(long rid) => string.Create(CultureInfo.InvariantCulture, $"$iothub/twin/PATCH/properties/reported/?$rid={rid}");

    public static string MethodResponse(int status, string rid) =>
        string.Create(CultureInfo.InvariantCulture, $"$iothub/methods/res/{status}/?$rid={Uri.EscapeDataString(rid)}");

    /// <summary><c>devices/{id}/messages/events/{bag}</c>.</summary>
    public static string Telemetry(string deviceId, HubMessage message)
    {
        var topic = new StringBuilder("devices/").Append(deviceId).Append("/messages/events/");
        PropertyBag.Append(topic, "$.mid", message.MessageId);
        PropertyBag.Append(topic, "$.cid", message.CorrelationId);
        PropertyBag.Append(topic, "$.ct", message.ContentType);
        PropertyBag.Append(topic, "$.ce", message.ContentEncoding);
        foreach (var (key, value) in message.Properties)
        {
            if (key.StartsWith("$.", StringComparison.Ordinal))
            {
                throw new ArgumentException($"Application property '{key}' uses the reserved '$.' prefix.", nameof(message));
            }

            PropertyBag.Append(topic, key, value);
        }

        var result = topic.ToString();
        if (Encoding.UTF8.GetByteCount(result) > MaxTopicBytes)
        {
            throw new ArgumentException("The message properties make the topic longer than 65535 bytes.", nameof(message));
        }

        return result;
    }

    /// <summary>Reads a value from the <c>?…</c> part of a topic.</summary>
    public static string? QueryValue(string topic, string key)
    {
        var q = topic.IndexOf('?', StringComparison.Ordinal);
        return q < 0 ? null : PropertyBag.Parse(topic.AsSpan(q + 1)).GetValueOrDefault(key);
    }

    /// <summary>Parses <c>$iothub/methods/POST/{name}/?$rid={rid}</c>: the unescaped method name and the request id, or null.</summary>
    public static (string Name, string Rid)? ParseMethodRequest(string topic)
    {
        var rest = topic.AsSpan(MethodRequestPrefix.Length);
        var slash = rest.IndexOf('/');
        var rid = QueryValue(topic, "$rid");
        return slash <= 0 || rid is null ? null : (Uri.UnescapeDataString(rest[..slash].ToString()), rid);
    }

    /// <summary>Parses the status of <c>$iothub/twin/res/{status}/?…</c>.</summary>
    public static bool TryParseTwinStatus(string topic, out int status)
    {
        status = 0;
        var rest = topic.AsSpan(TwinResponsePrefix.Length);
        var slash = rest.IndexOf('/');
        return slash > 0 && int.TryParse(rest[..slash], NumberStyles.None, CultureInfo.InvariantCulture, out status);
    }
}

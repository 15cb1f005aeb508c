using System.Globalization;

namespace Provisioning.Emulator.Hubs;

/// <summary>The hub's topic names for one device, and the parsing of what devices publish.</summary>
/// <remarks>dps-protocol.md §8, the feature table.</remarks>
internal static class HubTopics
{
    public const string TwinResponsePrefix = "$iothub/twin/res/";
    public const string TwinGetPrefix = "$iothub/twin/GET/";
    public const string TwinReportedPrefix = "$iothub/twin/PATCH/properties/reported/";
    public const string DesiredPrefix = "$iothub/twin/PATCH/properties/desired/";
    public const string MethodRequestPrefix = "$iothub/methods/POST/";
    public const string MethodResponsePrefix = "$iothub/methods/res/";

    public static string Events(string deviceId) => $"devices/{deviceId}/messages/events/";

    public static string DeviceBound(string deviceId) => $"devices/{deviceId}/messages/devicebound/";

    /// <summary>The subscriptions a device may hold.</summary>
    public static bool IsAllowedSubscription(string filter, string deviceId) =>
        filter == DeviceBound(deviceId) + "#"
        || filter == TwinResponsePrefix + "#"
        || filter == DesiredPrefix + "#"
        || filter == MethodRequestPrefix + "#"
        || filter == "$iothub/credentials/res/#";

    /// <summary>Reads <c>$rid</c> (and other keys) from the <c>?…</c> part of a topic.</summary>
    public static string? QueryValue(string topic, string key)
    {
        var q = topic.IndexOf('?', StringComparison.Ordinal);
        if (q < 0)
        {
            return null;
        }

        return HubPropertyBag.Parse(topic.AsSpan(q + 1)).GetValueOrDefault(key);
    }

    /// <summary>Parses <c>$iothub/methods/res/{status}/?$rid={rid}</c>.</summary>
    public static bool TryParseMethodResponse(string topic, out int status, out string? rid)
    {
        rid = null;
        status = 0;
        var rest = topic.AsSpan(MethodResponsePrefix.Length);
        var slash = rest.IndexOf('/');
        return slash > 0
            && int.TryParse(rest[..slash], NumberStyles.None, CultureInfo.InvariantCulture, out status)
            && (rid = QueryValue(topic, "$rid")) is not null;
    }
}

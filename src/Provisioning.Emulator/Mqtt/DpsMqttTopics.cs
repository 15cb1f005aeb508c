using System.Globalization;
using System.Text;

namespace Provisioning.Emulator.Mqtt;

/// <summary>What a device asks for over MQTT.</summary>
internal enum DpsMqttOperation
{
    /// <summary><c>$dps/registrations/PUT/iotdps-register/?$rid={rid}</c>.</summary>
    Register,

    /// <summary><c>$dps/registrations/GET/iotdps-get-operationstatus/?$rid={rid}&amp;operationId={opId}</c>.</summary>
    OperationStatus,
}

/// <summary>A request topic, read: the operation, the request id (echoed as received) and the operation id.</summary>
internal readonly record struct DpsMqttRequestTopic(DpsMqttOperation Operation, string RequestId, string? OperationId);

/// <summary>The DPS MQTT topics (dps-protocol.md §5): request topics read, response topics written, the one subscription allowed.</summary>
internal static class DpsMqttTopics
{
    /// <summary>The subscription devices make for every response.</summary>
    public const string ResponseFilter = "$dps/registrations/res/#";

    private const string ResponsePrefix = "$dps/registrations/res/";
    private const string RegisterPrefix = "$dps/registrations/PUT/iotdps-register/?";
    private const string StatusPrefix = "$dps/registrations/GET/iotdps-get-operationstatus/?";

    /// <summary>
    /// Reads a request topic; null when it is not one of the two request topics or has no <c>$rid</c>. The status
    /// topic's <c>operationId</c> is unescaped; a missing one is left null for the service to refuse.
    /// </summary>
    public static DpsMqttRequestTopic? ParseRequest(string topic)
    {
        DpsMqttOperation operation;
        string query;
        if (topic.StartsWith(RegisterPrefix, StringComparison.Ordinal))
        {
            operation = DpsMqttOperation.Register;
            query = topic[RegisterPrefix.Length..];
        }
        else if (topic.StartsWith(StatusPrefix, StringComparison.Ordinal))
        {
            operation = DpsMqttOperation.OperationStatus;
            query = topic[StatusPrefix.Length..];
        }
        else
        {
            return null;
        }

        var requestId = QueryValue(query, "$rid");
        if (string.IsNullOrEmpty(requestId))
        {
            return null;
        }

        var operationId = QueryValue(query, "operationId");
        return new DpsMqttRequestTopic(operation, requestId, string.IsNullOrEmpty(operationId) ? null : Uri.UnescapeDataString(operationId));
    }

    /// <summary><c>$dps/registrations/res/{status}/?$rid={rid}[&amp;retry-after={s}]</c>, the key in lower case as C and AC expect.</summary>
    public static string Response(int status, string requestId, TimeSpan? retryAfter)
    {
        var topic = new StringBuilder(ResponsePrefix.Length + 48).Append(ResponsePrefix)
            .Append(status.ToString(CultureInfo.InvariantCulture)).Append("/?$rid=").Append(requestId);
        if (retryAfter is { } delay)
        {
            topic.Append("&retry-after=").Append(Device.DeviceResponse.Seconds(delay).ToString(CultureInfo.InvariantCulture));
        }

        return topic.ToString();
    }

    /// <summary>A device may subscribe only within its response topics (the filter starts with the literal prefix).</summary>
    public static bool IsAllowedSubscription(string filter) => filter.StartsWith(ResponsePrefix, StringComparison.Ordinal);

    /// <summary>The value of <paramref name="key"/> in an <c>a=b&amp;c=d</c> query (first occurrence, raw), or null.</summary>
    public static string? QueryValue(string query, string key)
    {
        foreach (var pair in query.Split('&'))
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && pair.AsSpan(0, equals).SequenceEqual(key))
            {
                return pair[(equals + 1)..];
            }
        }

        return null;
    }
}

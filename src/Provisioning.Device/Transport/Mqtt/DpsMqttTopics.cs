using System.Globalization;
using System.Net;

namespace Provisioning.Device.Transport.Mqtt;

/// <summary>The DPS MQTT topics (dps-protocol.md §5): the two request topics, and a strict reader of response topics.</summary>
internal static class DpsMqttTopics
{
    /// <summary>The subscription that receives every response, at QoS 1.</summary>
    public const string ResponseFilter = "$dps/registrations/res/#";

    private const string ResponsePrefix = "$dps/registrations/res/";
    private const string RequestIdKey = "$rid";
    private const string RetryAfterKey = "retry-after";

    /// <summary>The longest <c>retry-after</c> read; anything longer is capped later by the retry policy.</summary>
    private const int MaxRetryAfterSeconds = 86_400;

    public static string Register(string requestId) => $"$dps/registrations/PUT/iotdps-register/?{RequestIdKey}={requestId}";

    public static string OperationStatus(string requestId, string operationId) =>
        $"$dps/registrations/GET/iotdps-get-operationstatus/?{RequestIdKey}={requestId}&operationId={Uri.EscapeDataString(operationId)}";

    /// <summary>
    /// Reads <c>$dps/registrations/res/{status}/?$rid={rid}[&amp;retry-after={s}]</c>. The status is three digits,
    /// <c>$rid</c> is required, <c>retry-after</c> is whole seconds (its key matched case-insensitively, as the C#
    /// SDK does); other parameters are ignored so the service can add some, but no key may repeat.
    /// </summary>
    /// <exception cref="ProvisioningException">The topic is malformed (never transient).</exception>
    public static DpsMqttResponse ParseResponse(string topic, string operation)
    {
        if (!topic.StartsWith(ResponsePrefix, StringComparison.Ordinal))
        {
            throw Malformed(operation, topic, "it does not start with " + ResponsePrefix);
        }

        // Read in place: only the request id becomes a string (a response arrives for every request).
        ReadOnlySpan<char> rest = topic.AsSpan(ResponsePrefix.Length);
        int slash = rest.IndexOf("/?", StringComparison.Ordinal);
        if (slash != 3 || !IsDigits(rest[..3]) || rest[0] is < '1' or > '5')
        {
            throw Malformed(operation, topic, "the status is not a three-digit HTTP status followed by /?");
        }

        int status = int.Parse(rest[..3], NumberStyles.None, CultureInfo.InvariantCulture);
        string? requestId = null;
        TimeSpan? retryAfter = null;
        bool sawRetryAfter = false;
        ReadOnlySpan<char> query = rest[(slash + 2)..];
        while (true)
        {
            int ampersand = query.IndexOf('&');
            ReadOnlySpan<char> pair = ampersand < 0 ? query : query[..ampersand];
            int equals = pair.IndexOf('=');
            if (equals <= 0)
            {
                throw Malformed(operation, topic, "a query parameter is not key=value");
            }

            ReadOnlySpan<char> key = pair[..equals];
            ReadOnlySpan<char> value = pair[(equals + 1)..];
            if (key.SequenceEqual(RequestIdKey))
            {
                if (requestId is not null || value.Length == 0)
                {
                    throw Malformed(operation, topic, "$rid is repeated or empty");
                }

                requestId = value.ToString();
            }
            else if (key.Equals(RetryAfterKey, StringComparison.OrdinalIgnoreCase))
            {
                if (sawRetryAfter || value.Length is 0 or > 9 || !IsDigits(value))
                {
                    throw Malformed(operation, topic, "retry-after is repeated or not whole seconds");
                }

                sawRetryAfter = true;
                retryAfter = TimeSpan.FromSeconds(Math.Min(int.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture), MaxRetryAfterSeconds));
            }

            if (ampersand < 0)
            {
                break;
            }

            query = query[(ampersand + 1)..];
        }

        if (requestId is null)
        {
            throw Malformed(operation, topic, "$rid is missing");
        }

        return new DpsMqttResponse((HttpStatusCode)status, requestId, retryAfter);
    }

    private static bool IsDigits(ReadOnlySpan<char> text)
    {
        foreach (char c in text)
        {
            if (c is < '0' or > '9')
            {
                return false;
            }
        }

        return true;
    }

    private static ProvisioningException Malformed(string operation, string topic, string why) =>
        ProvisioningException.Malformed(operation, $"the response topic '{Truncate(topic)}' is not a DPS response topic ({why})");

    private static string Truncate(string value) => value.Length <= 120 ? value : value[..120] + "…";
}

/// <summary>What a response topic says: the status, the request it answers and the server's wait.</summary>
internal readonly record struct DpsMqttResponse(HttpStatusCode Status, string RequestId, TimeSpan? RetryAfter);

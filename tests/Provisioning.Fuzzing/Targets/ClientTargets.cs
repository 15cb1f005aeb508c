using System.Net;
using System.Text;

using Provisioning.Device;
using Provisioning.Device.Transport;
using Provisioning.Device.Transport.Http;
using Provisioning.Device.Transport.Mqtt;

namespace Provisioning.Fuzzing.Targets;

/// <summary>The provisioning client: what it reads from DPS (HTTPS answers, MQTT topics and payloads) and from its cache file.</summary>
internal static class ClientTargets
{
    /// <summary>Statuses a DPS answer may carry; the first input byte picks one (the rest of the byte range maps onto them).</summary>
    private static readonly HttpStatusCode[] Statuses =
    [
        HttpStatusCode.OK, HttpStatusCode.Accepted, HttpStatusCode.Unauthorized, HttpStatusCode.BadRequest, HttpStatusCode.NotFound,
        HttpStatusCode.TooManyRequests, HttpStatusCode.InternalServerError, HttpStatusCode.ServiceUnavailable, HttpStatusCode.Found,
        HttpStatusCode.NoContent, HttpStatusCode.Forbidden, HttpStatusCode.Conflict, HttpStatusCode.PreconditionFailed,
        HttpStatusCode.RequestTimeout, HttpStatusCode.NotImplemented, (HttpStatusCode)299, (HttpStatusCode)599,
    ];

    public static bool IsProvisioningError(Exception ex) => ex is ProvisioningException;

    public static IEnumerable<FuzzTarget> All()
    {
        // Input: status selector byte, challenge flag in its top bit; a Retry-After header value up to '\n'; then the body.
        yield return new FuzzTarget("dps-https", "client", HttpsAnswer, IsProvisioningError);

        // Input: the response topic up to '\n', then the payload.
        yield return new FuzzTarget("dps-mqtt", "client", MqttAnswer, IsProvisioningError);

        // Input: the cache file's bytes. InvalidDataException is the cache's documented refusal (the client then registers).
        yield return new FuzzTarget("registration-cache", "client", CacheFile, ex => ex is InvalidDataException);
    }

    private static void HttpsAnswer(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var status = Statuses[(input[0] & 0x7F) % Statuses.Length];
        var challengeAllowed = (input[0] & 0x80) == 0;
        var (header, body) = SplitLine(input.AsSpan(1));

        using var response = new HttpResponseMessage(status);
        TimeSpan? retryAfter = null;
        if (header.Length > 0 && response.Headers.TryAddWithoutValidation("Retry-After", Encoding.Latin1.GetString(header)))
        {
            retryAfter = RetryAfterHeader.Read(response.Headers, new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
            if (retryAfter < TimeSpan.Zero)
            {
                throw new FuzzInvariantException("Retry-After read as a negative wait.");
            }
        }

        var reply = DpsResponseReader.Interpret(status, body, retryAfter, challengeAllowed, "the registration");
        Consume(reply);
    }

    private static void MqttAnswer(byte[] input)
    {
        var (topicBytes, payload) = SplitLine(input);
        var topic = Encoding.UTF8.GetString(topicBytes);
        var response = DpsMqttTopics.ParseResponse(topic, "the registration");
        if ((int)response.Status is < 100 or > 599 || string.IsNullOrEmpty(response.RequestId) || response.RetryAfter < TimeSpan.Zero)
        {
            throw new FuzzInvariantException($"The topic parsed to an impossible response ({(int)response.Status}, '{response.RequestId}').");
        }

        var reply = DpsResponseReader.Interpret(response.Status, payload, response.RetryAfter, challengeAllowed: false, "the registration");
        Consume(reply);
    }

    /// <summary>What the registration state machine does with a successful reply.</summary>
    private static void Consume(DpsReply reply)
    {
        if (reply.Operation is { } operation)
        {
            if (DpsOperation.IsFinalStatus(operation.Status) && operation.RegistrationState is not null)
            {
                var result = DpsResponseReader.ToResult(operation, "registration-id");
                if (result.Status == ProvisioningRegistrationStatus.Assigned
                    && (Uri.CheckHostName(result.AssignedHub) != UriHostNameType.Dns || string.IsNullOrEmpty(result.DeviceId)))
                {
                    throw new FuzzInvariantException("An assigned result without a DNS hub name or a device id was accepted.");
                }
            }
        }
        else if (reply.ChallengeKey is not { Length: > 0 })
        {
            throw new FuzzInvariantException("A reply with neither an operation nor a challenge was accepted.");
        }
    }

    private static void CacheFile(byte[] input)
    {
        var entry = FileRegistrationCache.Parse(input, "/fuzz/registration.json");

        // The entry is used without asking DPS: the hub becomes a TLS target and the device id part of the MQTT identity,
        // so the cache must hold them to the rules DPS answers are held to.
        // An oracle written apart from IdentityRules (which both client packages compile in): the rules as documented.
        if (entry.AssignedHub.Length > 253 || Uri.CheckHostName(entry.AssignedHub) != UriHostNameType.Dns
            || entry.AssignedHub.Split('.').Any(label => label.Length is 0 or > 63 || label[0] == '-' || label[^1] == '-' || !label.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')))
        {
            throw new FuzzInvariantException("The cache accepted an assigned hub that is not a DNS host name.");
        }

        if (entry.DeviceId.Length is 0 or > 128 || !entry.DeviceId.All(c => char.IsAsciiLetterOrDigit(c) || "-:.%_*?!(),=@;$'".Contains(c, StringComparison.Ordinal)))
        {
            throw new FuzzInvariantException("The cache accepted a device id DPS itself would be refused for.");
        }
    }

    /// <summary>Splits at the first '\n': (line, rest); without one the whole input is the line.</summary>
    internal static (byte[] Line, byte[] After) SplitLine(ReadOnlySpan<byte> input)
    {
        var newline = input.IndexOf((byte)'\n');
        return newline < 0 ? (input.ToArray(), []) : (input[..newline].ToArray(), input[(newline + 1)..].ToArray());
    }
}

using System.Net.Http.Headers;

namespace Provisioning.Device.Transport.Http;

/// <summary>Reads <c>Retry-After</c> as delta seconds or an HTTP date (RFC 9110 §10.2.3; dps-protocol.md §1.5).</summary>
internal static class RetryAfterHeader
{
    /// <returns>The wait, never negative, or <see langword="null"/> when the header is absent or unreadable.</returns>
    public static TimeSpan? Read(HttpResponseHeaders headers, DateTimeOffset now) => Read(headers.RetryAfter, now);

    /// <returns>The wait, never negative, or <see langword="null"/> when <paramref name="value"/> is absent or holds neither.</returns>
    public static TimeSpan? Read(RetryConditionHeaderValue? value, DateTimeOffset now)
    {
        if (value?.Delta is { } delta)
        {
            return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        }

        if (value?.Date is { } date)
        {
            TimeSpan wait = date - now;
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }

        return null;
    }
}

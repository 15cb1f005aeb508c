using Microsoft.AspNetCore.Http;

namespace Provisioning.Emulator.Protocol;

/// <summary>The api-versions the emulator speaks (dps-protocol.md §1.1).</summary>
internal static class ApiVersions
{
    /// <summary>The device API versions; 2021-06-01 is treated as 2019-03-31, as the protocol facts found no difference.</summary>
    public static readonly string[] Device = ["2019-03-31", "2021-06-01", "2025-07-01-preview"];

    /// <summary>The service API version.</summary>
    public const string Service = "2021-10-01";

    /// <summary>The preview device version that knows <c>csr</c>.</summary>
    public const string Preview = "2025-07-01-preview";

    /// <summary>Returns the request's api-version when it is in <paramref name="accepted"/>, else null.</summary>
    public static string? Match(HttpRequest request, ReadOnlySpan<string> accepted) => Match(FromQuery(request), accepted);

    /// <summary>The request's single <c>api-version</c> query value, or null when it is missing or repeated.</summary>
    public static string? FromQuery(HttpRequest request)
    {
        var values = request.Query["api-version"];
        return values.Count == 1 ? values[0] : null;
    }

    /// <summary>Returns <paramref name="value"/> when it is in <paramref name="accepted"/> (exact match), else null.</summary>
    public static string? Match(string? value, ReadOnlySpan<string> accepted)
    {
        if (value is null)
        {
            return null;
        }

        foreach (var candidate in accepted)
        {
            if (string.Equals(candidate, value, StringComparison.Ordinal))
            {
                return candidate;
            }
        }

        return null;
    }
}

using Microsoft.AspNetCore.Http;

namespace Provisioning.Emulator.Protocol;

/// <summary>The api-versions the emulator speaks (dps-protocol.md §1.1).</summary>
internal static class ApiVersions
{
    /// <summary>The device API versions; 2021-06-01 is treated as 2019-03-31, as the protocol facts found no difference.</summary>
    public static readonly string[] Device = ["2019-03-31", "2021-06-01", "2025-07-01-preview"];

    /// <summary>The newest service API version (the Azure CLI's and the v2 service SDK's).</summary>
    public const string Service = "2021-10-01";

    /// <summary>
    /// Every service API version the official service SDKs and the Azure CLI send: C# v1 (2019-03-31) and v2 (2021-10-01),
    /// the C# v1 previews (2021-11-01-preview: <c>clientCertificateIssuancePolicy</c>, <c>trustBundleId</c>;
    /// 2025-07-01-preview: <c>credentialPolicyName</c>), the Azure CLI iot extension (2021-10-01), and the older C, Java,
    /// Node and Python service clients (2017-08-31-preview, 2017-11-15, 2018-04-01, 2018-09-01-preview, 2019-01-15,
    /// 2019-02-15-preview). The shapes the emulator serves are the same for all: later versions only added optional fields,
    /// which older clients ignore.
    /// </summary>
    public static readonly string[] ServiceVersions =
        ["2017-08-31-preview", "2017-11-15", "2018-04-01", "2018-09-01-preview", "2019-01-15", "2019-02-15-preview", "2019-03-31", Service,
            "2021-11-01-preview", Preview];

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

using System.Globalization;
using System.Text;

using Microsoft.AspNetCore.Http;

using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Service;

/// <summary>
/// Query paging of the service API, as the service SDKs and the Azure CLI use it: request headers
/// <c>x-ms-max-item-count</c> (page size) and <c>x-ms-continuation</c> (where the previous page ended); response headers
/// <c>x-ms-item-type</c> (<c>Enrollment</c>, <c>EnrollmentGroup</c>, <c>DeviceRegistration</c>), <c>x-ms-max-item-count</c>
/// and, only when more items follow, <c>x-ms-continuation</c>.
/// </summary>
internal static class ServiceQuery
{
    /// <summary>The page size without <c>x-ms-max-item-count</c>, and the largest one served (a larger request is clamped).</summary>
    public const int MaxPageSize = 1000;

    public const string MaxItemCountHeader = "x-ms-max-item-count";
    public const string ContinuationHeader = "x-ms-continuation";
    public const string ItemTypeHeader = "x-ms-item-type";

    /// <summary>A page request: its size, and the id after which it starts (null: from the first).</summary>
    public readonly record struct Page(int Size, string? After);

    /// <summary>Reads the paging headers; null with <paramref name="problem"/> when one is malformed.</summary>
    public static Page? ReadPaging(HttpRequest request, out string? problem)
    {
        problem = null;
        var size = MaxPageSize;
        var count = request.Headers[MaxItemCountHeader];
        if (count.Count > 0)
        {
            if (count.Count > 1 || !int.TryParse(count[0], NumberStyles.None, CultureInfo.InvariantCulture, out size) || size < 1)
            {
                problem = $"{MaxItemCountHeader} must be one positive integer.";
                return null;
            }

            size = Math.Min(size, MaxPageSize);
        }

        string? after = null;
        var token = request.Headers[ContinuationHeader];
        if (token.Count > 0 && !string.IsNullOrWhiteSpace(token[0]))
        {
            after = token.Count == 1 ? Decode(token[0]!) : null;
            if (after is null)
            {
                problem = $"{ContinuationHeader} is not a token this service issued.";
                return null;
            }
        }

        return new Page(size, after);
    }

    /// <summary>Writes the paging headers of an answer; <paramref name="lastId"/> is the last id of a page that more items follow.</summary>
    public static void WriteHeaders(HttpResponse response, string itemType, int size, string? lastId)
    {
        response.Headers[ItemTypeHeader] = itemType;
        response.Headers[MaxItemCountHeader] = size.ToString(CultureInfo.InvariantCulture);
        if (lastId is not null)
        {
            response.Headers[ContinuationHeader] = Encode(lastId);
        }
    }

    /// <summary>An <c>If-Match</c> value without its quotes (and weak prefix): the etag as the bodies carry it.</summary>
    public static string Unquote(string value)
    {
        var text = value.Trim();
        if (text.StartsWith("W/", StringComparison.Ordinal))
        {
            text = text[2..];
        }

        return text.Length >= 2 && text[0] == '"' && text[^1] == '"' ? text[1..^1] : text;
    }

    // The token is the last id served, base64url: opaque to clients, and a page after a change still starts in the right place.
    private static string Encode(string id) => Convert.ToBase64String(Encoding.UTF8.GetBytes(id)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    private static string? Decode(string token)
    {
        if (token.Length > 256)
        {
            return null;
        }

        var text = token.Replace('-', '+').Replace('_', '/');
        text = text.PadRight(text.Length + ((4 - (text.Length % 4)) % 4), '=');
        var bytes = new byte[text.Length];
        if (!Convert.TryFromBase64String(text, bytes, out var written))
        {
            return null;
        }

        try
        {
            var id = new UTF8Encoding(false, true).GetString(bytes, 0, written);
            return RegistrationIds.IsValid(id) ? id : null;
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }
}

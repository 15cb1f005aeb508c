using System.Globalization;
using System.Text.Json;

using Microsoft.AspNetCore.Http;

using Provisioning.Emulator.Json;

namespace Provisioning.Emulator.Protocol;

/// <summary>Writes answers in the DPS shape: JSON bodies, error bodies with status from the code (dps-protocol.md §1.7).</summary>
internal static class DpsErrorWriter
{
    /// <summary>Writes the error body with status <c>errorCode / 1000</c> and the <c>x-ms-error-code</c> header.</summary>
    public static Task WriteErrorAsync(HttpContext context, int errorCode, string message, TimeProvider time, TimeSpan? retryAfter = null)
    {
        var response = context.Response;
        response.StatusCode = errorCode / 1000;
        response.Headers["x-ms-error-code"] = errorCode.ToString(CultureInfo.InvariantCulture);
        if (retryAfter is { } delay)
        {
            response.Headers.RetryAfter = ((int)Math.Ceiling(delay.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        var body = new DpsErrorBody
        {
            ErrorCode = errorCode,
            TrackingId = Guid.NewGuid().ToString(),
            Message = message,
            TimestampUtc = time.GetUtcNow().UtcDateTime,
        };
        return WriteJsonAsync(context, body, EmulatorJsonContext.Default.DpsErrorBody);
    }

    /// <summary>Writes a JSON body with the DPS content type.</summary>
    public static Task WriteJsonAsync<T>(HttpContext context, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        return JsonSerializer.SerializeAsync(context.Response.Body, value, typeInfo, context.RequestAborted);
    }
}

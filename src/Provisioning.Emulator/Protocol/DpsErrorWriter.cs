using System.Globalization;
using System.Text.Json;

using Microsoft.AspNetCore.Http;

using Provisioning.Emulator.Device;
using Provisioning.Emulator.Json;

namespace Provisioning.Emulator.Protocol;

/// <summary>Writes answers in the DPS shape: JSON bodies, error bodies with status from the code (dps-protocol.md §1.7).</summary>
internal static class DpsErrorWriter
{
    private const string ContentType = "application/json; charset=utf-8";

    /// <summary>Writes the error body with status <c>errorCode / 1000</c> and the <c>x-ms-error-code</c> header.</summary>
    public static Task WriteErrorAsync(HttpContext context, int errorCode, string message, TimeProvider time, TimeSpan? retryAfter = null) =>
        WriteAsync(context, DeviceResponse.Error(errorCode, message, time, retryAfter));

    /// <summary>Writes a transport-neutral answer: status, <c>Retry-After</c>, <c>x-ms-error-code</c> for errors, JSON body.</summary>
    public static Task WriteAsync(HttpContext context, DeviceResponse answer)
    {
        var response = context.Response;
        response.StatusCode = answer.StatusCode;
        if (answer.ErrorCode != 0)
        {
            response.Headers["x-ms-error-code"] = answer.ErrorCode.ToString(CultureInfo.InvariantCulture);
        }

        if (answer.RetryAfter is { } delay)
        {
            response.Headers.RetryAfter = DeviceResponse.Seconds(delay).ToString(CultureInfo.InvariantCulture);
        }

        response.ContentType = ContentType;
        return response.Body.WriteAsync(answer.Body, context.RequestAborted).AsTask();
    }

    /// <summary>Writes a JSON body with the DPS content type.</summary>
    public static Task WriteJsonAsync<T>(HttpContext context, T value, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> typeInfo)
    {
        context.Response.ContentType = ContentType;
        return JsonSerializer.SerializeAsync(context.Response.Body, value, typeInfo, context.RequestAborted);
    }
}

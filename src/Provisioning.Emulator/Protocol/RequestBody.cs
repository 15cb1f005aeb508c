using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

using Microsoft.AspNetCore.Http;

namespace Provisioning.Emulator.Protocol;

/// <summary>Reads a request body up to the 96 KB limit and parses it with source-generated JSON.</summary>
internal static class RequestBody
{
    /// <summary>The outcome: a value, nothing (empty body), or an error code with a message.</summary>
    public readonly record struct Result<T>(T? Value, int ErrorCode, string? Message);

    /// <summary>Reads and parses the body; an empty body yields a default value and no error.</summary>
    public static async Task<Result<T>> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        const int Limit = DpsEmulatorOptions.MaxRequestBodyBytes;
        if (request.ContentLength > Limit)
        {
            return new(default, DpsErrorCodes.PayloadTooLarge, "The request body exceeds 96 KB.");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(4096);
        var length = 0;
        try
        {
            while (true)
            {
                if (length == buffer.Length)
                {
                    if (length > Limit)
                    {
                        return new(default, DpsErrorCodes.PayloadTooLarge, "The request body exceeds 96 KB.");
                    }

                    var bigger = ArrayPool<byte>.Shared.Rent(buffer.Length * 2);
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }

                var read = await request.Body.ReadAsync(buffer.AsMemory(length), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            if (length > Limit)
            {
                return new(default, DpsErrorCodes.PayloadTooLarge, "The request body exceeds 96 KB.");
            }

            if (length == 0)
            {
                return new(default, 0, null);
            }

            try
            {
                var value = JsonSerializer.Deserialize(buffer.AsSpan(0, length), typeInfo);
                return value is null
                    ? new(default, DpsErrorCodes.MalformedRequest, "The request body must be a JSON object.")
                    : new(value, 0, null);
            }
            catch (JsonException)
            {
                return new(default, DpsErrorCodes.MalformedRequest, "The request body is not valid JSON for this operation.");
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}

using System.Buffers;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

using Microsoft.AspNetCore.Http;

namespace Provisioning.Emulator.Protocol;

/// <summary>Reads a request body up to the 96 KB limit and parses it with source-generated JSON.</summary>
internal static class RequestBody
{
    private const int Limit = DpsEmulatorOptions.MaxRequestBodyBytes;

    /// <summary>The outcome: a value, nothing (empty body), or an error code with a message.</summary>
    public readonly record struct Parsed<T>(T? Value, int ErrorCode, string? Message);

    /// <summary>Reads and parses the body; an empty body yields a default value and no error.</summary>
    public static async Task<Parsed<T>> ReadAsync<T>(HttpRequest request, JsonTypeInfo<T> typeInfo, CancellationToken cancellationToken)
    {
        if (request.ContentLength > Limit)
        {
            return TooLarge<T>();
        }

        // One byte over the limit is enough to know the body is too large; never read further.
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(request.ContentLength ?? 4096, Limit) + 1);
        try
        {
            var length = 0;
            while (length <= Limit)
            {
                if (length == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(buffer.Length * 2, Limit + 1));
                    buffer.AsSpan(0, length).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }

                int read;
                try
                {
                    read = await request.Body.ReadAsync(buffer.AsMemory(length, Math.Min(buffer.Length, Limit + 1) - length), cancellationToken).ConfigureAwait(false);
                }
                catch (BadHttpRequestException ex)
                {
                    // Kestrel's own framing or size checks: still the client's mistake, answered in the DPS shape.
                    return ex.StatusCode == StatusCodes.Status413PayloadTooLarge
                        ? TooLarge<T>()
                        : new(default, DpsErrorCodes.MalformedRequest, "The request body could not be read.");
                }

                if (read == 0)
                {
                    break;
                }

                length += read;
            }

            if (length > Limit)
            {
                return TooLarge<T>();
            }

            return Parse(buffer.AsSpan(0, length), typeInfo);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Parses a body already in memory (an MQTT payload, or what <see cref="ReadAsync"/> read): empty yields a default
    /// value and no error; more than 96 KB, or JSON that is not an object of <typeparamref name="T"/>, is an error.
    /// </summary>
    public static Parsed<T> Parse<T>(ReadOnlySpan<byte> body, JsonTypeInfo<T> typeInfo)
    {
        if (body.Length > Limit)
        {
            return TooLarge<T>();
        }

        if (body.IsEmpty)
        {
            return new(default, 0, null);
        }

        // JSON is UTF-8 (RFC 8259 §8.1); the reader does not check the bytes of a payload it keeps as a JsonElement, which
        // would then fail (a 500) where the payload is first read as text.
        if (!System.Text.Unicode.Utf8.IsValid(body))
        {
            return new(default, DpsErrorCodes.MalformedRequest, "The request body is not UTF-8 text.");
        }

        try
        {
            // An escaped lone surrogate ("\udc00") is valid JSON syntax but no text: kept inside a JsonElement (a twin, a
            // payload) it would fail where it is stored or written back, so it is refused here.
            if (!EscapesAreText(body))
            {
                return new(default, DpsErrorCodes.MalformedRequest, "The request body has an escaped string that is not valid UTF-16 text.");
            }

            var value = JsonSerializer.Deserialize(body, typeInfo);
            return value is null
                ? new(default, DpsErrorCodes.MalformedRequest, "The request body must be a JSON object.")
                : new(value, 0, null);
        }
        catch (JsonException)
        {
            return new(default, DpsErrorCodes.MalformedRequest, "The request body is not valid JSON for this operation.");
        }
    }

    private static bool EscapesAreText(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = 64 });
        while (reader.Read())
        {
            if (reader.TokenType is JsonTokenType.String or JsonTokenType.PropertyName && reader.ValueIsEscaped)
            {
                try
                {
                    _ = reader.GetString();
                }
                catch (InvalidOperationException)
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static Parsed<T> TooLarge<T>() => new(default, DpsErrorCodes.PayloadTooLarge, "The request body exceeds 96 KB.");
}

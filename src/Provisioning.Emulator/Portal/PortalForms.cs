using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Provisioning.Emulator.Portal;

/// <summary>Reading what an operator pastes or types: TpmDeviceProvision's output, keys, JSON.</summary>
internal static class PortalForms
{
    private const string Base32Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    /// <summary>
    /// The registration id and endorsement key from text as TpmDeviceProvision (or the C SDK's tpm_device_provision) prints
    /// it: <c>Registration Id: …</c> / <c>Endorsement Key: …</c>, the value on the same line or the next non-empty one. Text
    /// without those labels is taken as the key alone; whitespace inside the base64 is dropped.
    /// </summary>
    public static (string? RegistrationId, string? EndorsementKey) ParseTpmOutput(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return (null, null);
        }

        var lines = text.ReplaceLineEndings("\n").Split('\n');
        string? id = null, ek = null;
        var labelled = false;
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            string? target = null;
            foreach (var label in Labels)
            {
                if (line.StartsWith(label, StringComparison.OrdinalIgnoreCase))
                {
                    target = label;
                    line = line[label.Length..].Trim();
                    break;
                }
            }

            if (target is null)
            {
                continue;
            }

            labelled = true;

            // tpm_device_provision puts the value on the next non-empty line; another label there means no value.
            while (line.Length == 0 && i + 1 < lines.Length && !IsLabel(lines[i + 1].Trim()))
            {
                line = lines[++i].Trim();
            }

            if (target == "Registration Id:")
            {
                id = line.Length > 0 ? line : null;
            }
            else if (target == "Endorsement Key:")
            {
                ek = line.Length > 0 ? line : null;
            }
        }

        if (!labelled)
        {
            ek = text;
        }

        return (id, ek is null ? null : string.Concat(ek.Where(c => !char.IsWhiteSpace(c))));
    }

    private static readonly string[] Labels = ["Registration Id:", "Endorsement Key:", "Storage Root Key:"];

    private static bool IsLabel(string line) => Labels.Any(l => line.StartsWith(l, StringComparison.OrdinalIgnoreCase));

    /// <summary>The registration id the C SDK derives from an EK: lowercase base32 of SHA-256(TPM2B_PUBLIC), no padding (dps-protocol.md §2.5).</summary>
    public static string DeriveRegistrationId(ReadOnlySpan<byte> endorsementKey)
    {
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(endorsementKey, hash);
        var chars = new char[(hash.Length * 8 + 4) / 5];
        int buffer = 0, bits = 0, n = 0;
        foreach (var b in hash)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[n++] = Base32Alphabet[(buffer >> (bits - 5)) & 31];
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            chars[n++] = Base32Alphabet[(buffer << (5 - bits)) & 31];
        }

        return new string(chars, 0, n);
    }

    /// <summary>Base64 (standard or URL-safe, with or without padding), or null.</summary>
    public static byte[]? DecodeBase64(string text)
    {
        var normalized = text.Replace('-', '+').Replace('_', '/');
        normalized = normalized.PadRight(normalized.Length + ((4 - (normalized.Length % 4)) % 4), '=');
        var buffer = new byte[normalized.Length];
        return Convert.TryFromBase64String(normalized, buffer, out var written) ? buffer[..written] : null;
    }

    /// <summary>A JSON object (null for empty text); the error says what is wrong.</summary>
    public static JsonObject? ParseObject(string? text, string what, out string? error)
    {
        error = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        try
        {
            if (JsonNode.Parse(text, documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false, MaxDepth = 32 }) is JsonObject value)
            {
                return value;
            }

            error = $"{what} must be a JSON object ({{…}}).";
        }
        catch (JsonException ex)
        {
            error = $"{what} is not valid JSON: {ex.Message}";
        }

        return null;
    }

    /// <summary>The merge patch that turns <paramref name="current"/> into <paramref name="wanted"/> (removed names become null).</summary>
    public static JsonObject Diff(JsonObject current, JsonObject wanted)
    {
        var patch = new JsonObject();
        foreach (var (name, value) in current)
        {
            if (!name.StartsWith('$') && !wanted.ContainsKey(name))
            {
                patch[name] = null;
            }
        }

        foreach (var (name, value) in wanted)
        {
            if (name.StartsWith('$'))
            {
                continue;
            }

            var old = current[name];
            if (value is JsonObject wantedChild && old is JsonObject currentChild)
            {
                var inner = Diff(currentChild, wantedChild);
                if (inner.Count > 0)
                {
                    patch[name] = inner;
                }
            }
            else if (old is null && !current.ContainsKey(name) || !JsonNode.DeepEquals(old, value))
            {
                patch[name] = value?.DeepClone();
            }
        }

        return patch;
    }

    private static readonly JsonSerializerOptions PrettyOptions = new()
    {
        WriteIndented = true,
        TypeInfoResolver = Json.EmulatorJsonContext.Default,

        // For display only: the text is HTML-encoded where it is written.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Pretty JSON for display.</summary>
    public static string Pretty(string json)
    {
        try
        {
            return JsonNode.Parse(json)?.ToJsonString(PrettyOptions) ?? json;
        }
        catch (JsonException)
        {
            return json;
        }
    }
}

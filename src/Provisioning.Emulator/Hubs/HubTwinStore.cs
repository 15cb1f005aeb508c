using System.Text.Json;
using System.Text.Json.Nodes;

namespace Provisioning.Emulator.Hubs;

/// <summary>One device's twin: desired and reported properties, each with a version bumped by every patch.</summary>
/// <remarks>Patches merge (JSON merge-patch: objects recurse, <c>null</c> removes). dps-protocol.md §8.</remarks>
internal sealed class HubTwinStore
{
    private readonly Lock _gate = new();
    private readonly JsonObject _desired;
    private readonly JsonObject _reported = [];
    private long _desiredVersion;
    private long _reportedVersion;

    /// <summary>A twin holding <paramref name="initialDesired"/>, at version 1 on both sides.</summary>
    public HubTwinStore(string? initialDesired, string? generation = null)
        : this(initialDesired, generation, 1, 1)
    {
    }

    private HubTwinStore(string? initialDesired, string? generation, long desiredVersion, long reportedVersion)
    {
        _desired = initialDesired is null ? [] : JsonNode.Parse(initialDesired) as JsonObject ?? [];
        _desired.Remove("$version");
        Generation = generation;
        _desiredVersion = desiredVersion;
        _reportedVersion = reportedVersion;
    }

    /// <summary>The <see cref="HubDevice.TwinGeneration"/> this twin was built for.</summary>
    public string? Generation { get; }

    /// <summary>A twin holding only <paramref name="initialDesired"/> (the reported side empty), for a device whose data was reset.</summary>
    /// <remarks>Both versions move past this twin's, so a device client that skips desired versions it has already seen
    /// (dps-protocol.md §8, desired push) still takes the reset twin as news.</remarks>
    public HubTwinStore Reset(string? initialDesired, string? generation)
    {
        lock (_gate)
        {
            return new HubTwinStore(initialDesired, generation, _desiredVersion + 1, _reportedVersion + 1);
        }
    }

    public HubTwinSnapshot Snapshot()
    {
        lock (_gate)
        {
            return new HubTwinSnapshot(WithVersion(_desired, _desiredVersion), WithVersion(_reported, _reportedVersion), _desiredVersion, _reportedVersion);
        }
    }

    /// <summary>The body of a twin GET answer.</summary>
    public string ToDocument()
    {
        lock (_gate)
        {
            return $"{{\"desired\":{WithVersion(_desired, _desiredVersion)},\"reported\":{WithVersion(_reported, _reportedVersion)}}}";
        }
    }

    /// <summary>Applies a reported patch; throws <see cref="JsonException"/> when the patch is not a JSON object.</summary>
    public long PatchReported(ReadOnlySpan<byte> json)
    {
        var patch = ParseObject(json);
        lock (_gate)
        {
            Merge(_reported, patch);
            return ++_reportedVersion;
        }
    }

    /// <summary>Applies a desired patch and returns the body to push to the device (the patch with its <c>$version</c>).</summary>
    public (long Version, string Push) PatchDesired(ReadOnlySpan<byte> json)
    {
        var patch = ParseObject(json);
        lock (_gate)
        {
            Merge(_desired, patch);
            _desiredVersion++;
            return (_desiredVersion, WithVersion(patch, _desiredVersion));
        }
    }

    /// <summary>Duplicate names are refused while parsing: otherwise <see cref="JsonObject"/> throws
    /// <see cref="ArgumentException"/> later, at the top level on first access or, nested, in the middle of a merge.</summary>
    private static readonly JsonDocumentOptions PatchOptions = new() { AllowDuplicateProperties = false };

    private static JsonObject ParseObject(ReadOnlySpan<byte> json)
    {
        // JSON is UTF-8 (RFC 8259 §8.1), but JsonNode decodes names and strings lazily: bytes that are not UTF-8, or an escaped
        // lone surrogate, would throw InvalidOperationException mid-merge, or later on every GET of the twin they were stored in.
        if (!System.Text.Unicode.Utf8.IsValid(json))
        {
            throw new JsonException("A twin patch must be UTF-8 text.");
        }

        var node = JsonNode.Parse(json, documentOptions: PatchOptions);
        var patch = node as JsonObject ?? throw new JsonException("A twin patch must be a JSON object.");
        try
        {
            ReadAll(patch);
        }
        catch (InvalidOperationException ex)
        {
            throw new JsonException("A twin patch holds text that is not valid Unicode.", ex);
        }

        return patch;
    }

    /// <summary>Decodes every name and string of a parsed patch (depth is bounded by the parser's 64).</summary>
    private static void ReadAll(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, value) in obj)
                {
                    ReadAll(value);
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    ReadAll(item);
                }

                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                _ = value.GetValue<string>();
                break;
            default:
                break;
        }
    }

    private static void Merge(JsonObject target, JsonObject patch)
    {
        foreach (var (key, value) in patch.ToArray())
        {
            if (key.StartsWith('$'))
            {
                continue;
            }

            if (value is null)
            {
                target.Remove(key);
            }
            else if (value is JsonObject child && target[key] is JsonObject existing)
            {
                Merge(existing, child);
            }
            else
            {
                target[key] = value.DeepClone();
            }
        }
    }

    private static string WithVersion(JsonObject properties, long version)
    {
        var copy = (JsonObject)properties.DeepClone();
        copy["$version"] = version;
        return copy.ToJsonString();
    }
}

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
    private long _desiredVersion = 1;
    private long _reportedVersion = 1;

    public HubTwinStore(string? initialDesired)
    {
        _desired = initialDesired is null ? [] : JsonNode.Parse(initialDesired) as JsonObject ?? [];
        _desired.Remove("$version");
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
        var node = JsonNode.Parse(json, documentOptions: PatchOptions);
        return node as JsonObject ?? throw new JsonException("A twin patch must be a JSON object.");
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

using System.Text.Json.Serialization;

namespace Provisioning.Device.Serialization;

/// <summary>Source-generated (trim- and AOT-safe) JSON metadata for every wire shape.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    PropertyNameCaseInsensitive = true,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DpsOperationStatusWire))]
[JsonSerializable(typeof(DpsErrorWire))]
[JsonSerializable(typeof(CachedRegistrationWire))]
internal sealed partial class DpsJsonContext : JsonSerializerContext
{
}

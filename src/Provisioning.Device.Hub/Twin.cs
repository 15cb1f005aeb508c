using System.Text.Json.Nodes;

namespace Provisioning.Device.Hub;

/// <summary>A device twin as the device sees it.</summary>
/// <param name="Desired">The desired properties (without <c>$version</c>).</param>
/// <param name="DesiredVersion">The desired version.</param>
/// <param name="Reported">The reported properties (without <c>$version</c>).</param>
/// <param name="ReportedVersion">The reported version.</param>
public sealed record Twin(JsonObject Desired, long DesiredVersion, JsonObject Reported, long ReportedVersion);

/// <summary>A desired-property patch pushed by the hub.</summary>
/// <param name="Patch">The patch (without <c>$version</c>).</param>
/// <param name="Version">The desired version after the patch.</param>
public sealed record DesiredPropertyUpdate(JsonObject Patch, long Version);

/// <summary>A direct method call.</summary>
/// <param name="Name">The method name.</param>
/// <param name="Payload">The JSON payload (UTF-8).</param>
public sealed record MethodRequest(string Name, ReadOnlyMemory<byte> Payload);

/// <summary>The answer to a direct method call.</summary>
/// <param name="Status">The status the application chooses (200 for success).</param>
/// <param name="Payload">A JSON payload (UTF-8); empty sends <c>null</c>.</param>
public sealed record MethodResponse(int Status, ReadOnlyMemory<byte> Payload);

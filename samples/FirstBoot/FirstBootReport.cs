using System.Text.Json.Serialization;

namespace Provisioning.Samples.FirstBoot;

/// <summary>The <c>--json</c> line: the outcome of one run, failures included.</summary>
internal sealed class FirstBootReport
{
    /// <summary><c>assigned</c>, <c>failed</c>, <c>disabled</c> or <c>error</c>.</summary>
    public required string Status { get; set; }

    public string? RegistrationId { get; set; }

    public string? AssignedHub { get; set; }

    public string? DeviceId { get; set; }

    public required string Attestation { get; init; }

    public required string Transport { get; init; }

    /// <summary><c>dps</c> or <c>cache</c>.</summary>
    public string? Source { get; set; }

    public bool TelemetryDelivered { get; set; }

    /// <summary>What <see cref="TelemetryDelivered"/> rests on: <c>hub-record</c> (the embedded hub's own record of the message)
    /// or <c>puback</c> (the hub's acknowledgement, when the hub runs in another process).</summary>
    public string? TelemetryEvidence { get; set; }

    /// <summary>From the first registration request to <c>assigned</c>; null from the cache.</summary>
    public long? TimeToAssignedMs { get; set; }

    public long ElapsedMs { get; set; }

    public string? Error { get; set; }

    /// <summary>With <c>--csr</c>: the certificate DPS issued (from DPS or from the cache).</summary>
    public IssuedCertificateReport? IssuedCertificate { get; set; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(FirstBootReport))]
internal sealed partial class FirstBootJsonContext : JsonSerializerContext;

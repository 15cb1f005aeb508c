using System.Security.Cryptography;
using System.Text.Json;

using Provisioning.Emulator.Json;

namespace Provisioning.Emulator.Enrollments;

/// <summary>Fills the service-shaped enrollment fields from <see cref="EnrollmentSettings"/>.</summary>
internal static class EnrollmentFactory
{
    public static string NewKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(64));

    public static IndividualEnrollment Individual(string registrationId, AttestationMechanism attestation, EnrollmentSettings s, DateTime now) => new()
    {
        RegistrationId = registrationId,
        DeviceId = s.DeviceId,
        Attestation = attestation,
        Capabilities = new DeviceCapabilities { IotEdge = s.IotEdge },
        InitialTwin = ParseTwin(s.InitialTwinJson),
        ProvisioningStatus = s.Enabled ? "enabled" : "disabled",
        ReprovisionPolicy = new ReprovisionPolicy { UpdateHubAssignment = s.UpdateHubAssignment, MigrateDeviceData = s.MigrateDeviceData },
        AllocationPolicy = PolicyName(s.AllocationPolicy),
        IotHubs = s.IotHubs.Count > 0 ? [.. s.IotHubs] : null,
        CustomAllocationDefinition = s.WebhookUrl is { } url ? new CustomAllocationDefinition { WebhookUrl = url.ToString(), ApiVersion = "2021-10-01" } : null,
        CreatedDateTimeUtc = now,
        LastUpdatedDateTimeUtc = now,
        Etag = NewEtag(),
    };

    public static EnrollmentGroup Group(string groupId, AttestationMechanism attestation, EnrollmentSettings s, DateTime now) => new()
    {
        EnrollmentGroupId = groupId,
        Attestation = attestation,
        Capabilities = new DeviceCapabilities { IotEdge = s.IotEdge },
        InitialTwin = ParseTwin(s.InitialTwinJson),
        ProvisioningStatus = s.Enabled ? "enabled" : "disabled",
        ReprovisionPolicy = new ReprovisionPolicy { UpdateHubAssignment = s.UpdateHubAssignment, MigrateDeviceData = s.MigrateDeviceData },
        AllocationPolicy = PolicyName(s.AllocationPolicy),
        IotHubs = s.IotHubs.Count > 0 ? [.. s.IotHubs] : null,
        CustomAllocationDefinition = s.WebhookUrl is { } url ? new CustomAllocationDefinition { WebhookUrl = url.ToString(), ApiVersion = "2021-10-01" } : null,
        CreatedDateTimeUtc = now,
        LastUpdatedDateTimeUtc = now,
        Etag = NewEtag(),
    };

    public static string NewEtag() => "\"" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)) + "\"";

    private static string PolicyName(AllocationPolicy policy) => policy switch
    {
        AllocationPolicy.GeoLatency => "geoLatency",
        AllocationPolicy.Static => "static",
        AllocationPolicy.Custom => "custom",
        _ => "hashed",
    };

    private static JsonElement? ParseTwin(string? json)
    {
        if (json is null)
        {
            return null;
        }

        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new ArgumentException("InitialTwinJson is not valid JSON.", nameof(json), ex);
        }
    }
}

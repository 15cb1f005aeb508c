using System.Text.Json;

using Provisioning.Emulator.Json;

namespace Provisioning.Emulator.Device;

/// <summary>The allocation-relevant settings of an individual enrollment or a group, read the same way.</summary>
internal sealed class EnrollmentView
{
    public string? AllocationPolicy { get; private init; }

    public List<string>? IotHubs { get; private init; }

    public string? IotHubHostName { get; private init; }

    public CustomAllocationDefinition? Custom { get; private init; }

    public ReprovisionPolicy Reprovision { get; private init; } = new();

    public JsonElement? InitialTwin { get; private init; }

    public string? DeviceId { get; private init; }

    public static EnrollmentView From(DeviceIdentity identity) => identity.Enrollment is { } e
        ? new EnrollmentView
        {
            AllocationPolicy = e.AllocationPolicy,
            IotHubs = e.IotHubs,
            IotHubHostName = e.IotHubHostName,
            Custom = e.CustomAllocationDefinition,
            Reprovision = e.ReprovisionPolicy ?? new(),
            InitialTwin = e.InitialTwin,
            DeviceId = string.IsNullOrEmpty(e.DeviceId) ? null : e.DeviceId,
        }
        : new EnrollmentView
        {
            AllocationPolicy = identity.Group!.AllocationPolicy,
            IotHubs = identity.Group.IotHubs,
            IotHubHostName = identity.Group.IotHubHostName,
            Custom = identity.Group.CustomAllocationDefinition,
            Reprovision = identity.Group.ReprovisionPolicy ?? new(),
            InitialTwin = identity.Group.InitialTwin,
        };
}

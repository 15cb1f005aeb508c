using System.Text.Json;

using Provisioning.Emulator.Hubs;
using Provisioning.Emulator.Json;

namespace Provisioning.Emulator.Storage;

/// <summary>A set of changes committed together (one SQLite transaction), e.g. a registration and its hub device.</summary>
internal sealed class StoreBatch
{
    private static EmulatorJsonContext Ctx => EmulatorJsonContext.Default;

    /// <summary>The rows to write.</summary>
    public List<StoredRow> Rows { get; } = new(2);

    /// <summary>The in-memory updates applied once the rows are durable.</summary>
    public List<Action<EmulatorStore>> Applies { get; } = new(2);

    public void PutEnrollment(IndividualEnrollment enrollment)
    {
        var id = enrollment.RegistrationId!;
        Rows.Add(new StoredRow(EmulatorStore.EnrollmentKind, id.ToUpperInvariant(), JsonSerializer.SerializeToUtf8Bytes(enrollment, Ctx.IndividualEnrollment)));
        Applies.Add(s => s.Enrollments[id] = enrollment);
    }

    public void DeleteEnrollment(string registrationId)
    {
        Rows.Add(new StoredRow(EmulatorStore.EnrollmentKind, registrationId.ToUpperInvariant(), null));
        Applies.Add(s => s.Enrollments.TryRemove(registrationId, out _));
    }

    public void PutGroup(EnrollmentGroup group)
    {
        var id = group.EnrollmentGroupId!;
        Rows.Add(new StoredRow(EmulatorStore.GroupKind, id.ToUpperInvariant(), JsonSerializer.SerializeToUtf8Bytes(group, Ctx.EnrollmentGroup)));
        Applies.Add(s => s.Groups[id] = group);
    }

    public void DeleteGroup(string groupId)
    {
        Rows.Add(new StoredRow(EmulatorStore.GroupKind, groupId.ToUpperInvariant(), null));
        Applies.Add(s => s.Groups.TryRemove(groupId, out _));
    }

    public void PutRegistration(RegistrationRecord registration)
    {
        var id = registration.RegistrationId;
        Rows.Add(new StoredRow(EmulatorStore.RegistrationKind, id.ToUpperInvariant(), JsonSerializer.SerializeToUtf8Bytes(registration, Ctx.RegistrationRecord)));
        Applies.Add(s => s.Registrations[id] = registration);
    }

    public void DeleteRegistration(string registrationId)
    {
        Rows.Add(new StoredRow(EmulatorStore.RegistrationKind, registrationId.ToUpperInvariant(), null));
        Applies.Add(s => s.Registrations.TryRemove(registrationId, out _));
    }

    public void PutHubDevice(HubDevice device)
    {
        var key = EmulatorStore.HubKey(device.HubHostName, device.DeviceId);
        Rows.Add(new StoredRow(EmulatorStore.HubDeviceKind, key.ToUpperInvariant(), JsonSerializer.SerializeToUtf8Bytes(EmulatorStore.ToStored(device), Ctx.StoredHubDevice)));
        Applies.Add(s => s.HubDevices[key] = device);
    }

    public void RemoveHubDevice(string hubHostName, string deviceId)
    {
        var key = EmulatorStore.HubKey(hubHostName, deviceId);
        Rows.Add(new StoredRow(EmulatorStore.HubDeviceKind, key.ToUpperInvariant(), null));
        Applies.Add(s => s.HubDevices.TryRemove(key, out _));
    }
}

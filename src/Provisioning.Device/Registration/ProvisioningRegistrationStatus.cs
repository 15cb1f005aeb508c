namespace Provisioning.Device;

/// <summary>The status of a registration (dps-protocol.md §1.5).</summary>
public enum ProvisioningRegistrationStatus
{
    /// <summary>A value this client does not know.</summary>
    Unknown = 0,

    /// <summary>Not yet assigned.</summary>
    Unassigned = 1,

    /// <summary>Assignment in progress.</summary>
    Assigning = 2,

    /// <summary>Assigned to a hub.</summary>
    Assigned = 3,

    /// <summary>The service failed the registration; see the error code and message.</summary>
    Failed = 4,

    /// <summary>The enrollment or registration is disabled.</summary>
    Disabled = 5,
}

/// <summary>Why a device was (re)assigned (dps-protocol.md §1.6).</summary>
public enum ProvisioningRegistrationSubstatus
{
    /// <summary>Absent, or a value this client does not know.</summary>
    Unknown = 0,

    /// <summary>The first assignment of the device.</summary>
    InitialAssignment = 1,

    /// <summary>Reassigned to another hub with its data migrated.</summary>
    DeviceDataMigrated = 2,

    /// <summary>Reassigned to another hub with its data reset.</summary>
    DeviceDataReset = 3,

    /// <summary>Reprovisioned to the hub of its initial assignment.</summary>
    ReprovisionedToInitialAssignment = 4,
}

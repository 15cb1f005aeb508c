using Provisioning.Device.Serialization;

namespace Provisioning.Device.Transport;

/// <summary>A validated <c>RegistrationOperationStatus</c> (dps-protocol.md §1.5).</summary>
internal sealed class DpsOperation
{
    public required string OperationId { get; init; }

    public required ProvisioningRegistrationStatus Status { get; init; }

    public DpsRegistrationStateWire? RegistrationState { get; init; }

    /// <summary>The attestation secrets of a final result, decoded.</summary>
    public AssignedCredentials? Credentials { get; init; }

    public bool IsFinal => IsFinalStatus(Status);

    public static bool IsFinalStatus(ProvisioningRegistrationStatus status) =>
        status is ProvisioningRegistrationStatus.Assigned or ProvisioningRegistrationStatus.Failed or ProvisioningRegistrationStatus.Disabled;
}

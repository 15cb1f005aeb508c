namespace Provisioning.Device;

/// <summary>
/// The five TPM identity operations TPM attestation needs (dps-protocol.md §2): the seam between the attestation
/// and <c>Provisioning.Device.Tpm.TpmIdentity</c>, and the place tests put a fake TPM.
/// </summary>
internal interface ITpmDevice
{
    /// <summary>The EK as TPM2B_PUBLIC bytes, size prefix included (§2.2).</summary>
    ValueTask<byte[]> GetEndorsementKeyAsync(CancellationToken cancellationToken);

    /// <summary>The SRK as TPM2B_PUBLIC bytes, size prefix included (§2.2).</summary>
    ValueTask<byte[]> GetStorageRootKeyAsync(CancellationToken cancellationToken);

    /// <summary>The EK-derived registration id (§2.5).</summary>
    ValueTask<string> GetRegistrationIdAsync(CancellationToken cancellationToken);

    /// <summary>Activates an <c>authenticationKey</c> blob and persists the identity key it carries (§2.3).</summary>
    ValueTask ActivateIdentityKeyAsync(ReadOnlyMemory<byte> authenticationKey, CancellationToken cancellationToken);

    /// <summary>HMAC-SHA256 with the persisted identity key (§2.3, signing).</summary>
    ValueTask<byte[]> SignAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);
}

namespace Provisioning.Emulator.Tpm;

/// <summary>The service side of TPM attestation: makes an activation blob that only the device's TPM can open.</summary>
public interface ITpmCredentialIssuer
{
    /// <summary>
    /// Validates the device's keys and wraps a fresh random HMAC-SHA256 identity key for them (dps-protocol.md §2.3).
    /// </summary>
    /// <param name="endorsementKey">The EK as DPS receives it: TPM2B_PUBLIC bytes, size prefix included.</param>
    /// <param name="storageRootKey">The SRK in the same form.</param>
    /// <returns>The blob for the device and the plaintext key for the service.</returns>
    /// <exception cref="TpmAttestationRejectedException">A key is malformed or not of the required kind.</exception>
    TpmIssuedCredential Issue(ReadOnlySpan<byte> endorsementKey, ReadOnlySpan<byte> storageRootKey);
}

namespace Provisioning.Device;

/// <summary>The attestation-specific secrets of an <c>assigned</c> result (dps-protocol.md §1.6).</summary>
/// <remarks>Held only until the attestation has used them; <see cref="Clear"/> zeroes them.</remarks>
internal sealed class AssignedCredentials
{
    /// <summary>The decoded <c>registrationState.tpm.authenticationKey</c> activation blob, if present.</summary>
    public byte[]? TpmAuthenticationKey { get; init; }

    public void Clear()
    {
        if (TpmAuthenticationKey is { } key)
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(key);
        }
    }
}

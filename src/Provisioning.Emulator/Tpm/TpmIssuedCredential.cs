namespace Provisioning.Emulator.Tpm;

/// <summary>
/// What the service side of TPM attestation hands to a device: the six-part <c>authenticationKey</c> blob
/// (dps-protocol.md §2.3) and, for the service alone, the plaintext HMAC-SHA256 identity key inside it.
/// </summary>
/// <remarks>The caller owns <see cref="IdentityKey"/>: it verifies SAS tokens with it and then stores it as the
/// device's hub credential; nothing else keeps a copy.</remarks>
public sealed class TpmIssuedCredential
{
    /// <summary>Creates the pair.</summary>
    public TpmIssuedCredential(byte[] authenticationKey, byte[] identityKey)
    {
        ArgumentNullException.ThrowIfNull(authenticationKey);
        ArgumentNullException.ThrowIfNull(identityKey);
        AuthenticationKey = authenticationKey;
        IdentityKey = identityKey;
    }

    /// <summary>The blob sent to the device as base64 in <c>authenticationKey</c>.</summary>
    public byte[] AuthenticationKey { get; }

    /// <summary>The plaintext 32-byte HMAC-SHA256 key that only the device's TPM can load.</summary>
    public byte[] IdentityKey { get; }
}

/// <summary>The device's EK or SRK is not one the service accepts (wrong algorithm, size, attributes or policy).</summary>
/// <remarks>The DPS emulator turns it into a 400 with the DPS error body and <see cref="Exception.Message"/> as the reason.</remarks>
public sealed class TpmAttestationRejectedException : Exception
{
    /// <summary>Creates the exception with the reason.</summary>
    public TpmAttestationRejectedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with the reason and its cause.</summary>
    public TpmAttestationRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public TpmAttestationRejectedException()
    {
    }
}

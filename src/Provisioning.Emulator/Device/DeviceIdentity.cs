using System.Security.Cryptography.X509Certificates;

using Provisioning.Emulator.Json;

namespace Provisioning.Emulator.Device;

/// <summary>A device that proved who it is, and the enrollment that vouches for it.</summary>
internal sealed class DeviceIdentity : IDisposable
{
    public required string RegistrationId { get; init; }

    /// <summary><c>tpm</c>, <c>x509</c> or <c>symmetricKey</c>.</summary>
    public required string AttestationType { get; init; }

    public IndividualEnrollment? Enrollment { get; init; }

    public EnrollmentGroup? Group { get; init; }

    /// <summary>The device's symmetric keys (individual keys, or group-derived ones), for the hub registry.</summary>
    public byte[]? PrimaryKey { get; init; }

    public byte[]? SecondaryKey { get; init; }

    /// <summary>The EK and SRK as sent (TPM).</summary>
    public byte[]? EndorsementKey { get; init; }

    public byte[]? StorageRootKey { get; init; }

    public X509Certificate2? ClientCertificate { get; init; }

    public X509Certificate2? SigningCertificate { get; init; }

    /// <summary>Releases the signing certificate copy (the client certificate belongs to the connection).</summary>
    public void Dispose() => SigningCertificate?.Dispose();

    /// <summary>Whether the enrollment (or group) is disabled.</summary>
    public bool Disabled => string.Equals(Enrollment?.ProvisioningStatus ?? Group?.ProvisioningStatus, "disabled", StringComparison.OrdinalIgnoreCase);
}

/// <summary>The outcome of authenticating a device request: an identity, a TPM challenge, or an error.</summary>
internal readonly record struct AuthOutcome(DeviceIdentity? Identity, TpmChallengeBody? Challenge, int ErrorCode, string? Message)
{
    public static AuthOutcome Fail(int errorCode, string message) => new(null, null, errorCode, message);
}

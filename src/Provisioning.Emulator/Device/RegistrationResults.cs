using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

using Provisioning.Emulator.Json;
using Provisioning.Emulator.Storage;

namespace Provisioning.Emulator.Device;

/// <summary>What a device sees of a stored registration (dps-protocol.md §1.6).</summary>
internal static class RegistrationResults
{
    /// <summary>The final <c>RegistrationOperationStatus</c> body of an operation.</summary>
    public static byte[] FinalBody(string operationId, RegistrationRecord record) =>
        JsonSerializer.SerializeToUtf8Bytes(
            new RegistrationOperationStatus { OperationId = operationId, Status = record.Status, RegistrationState = ToDeviceResult(record) },
            EmulatorJsonContext.Default.RegistrationOperationStatus);

    /// <summary>
    /// The <c>registrationState</c> of a record whose operation is still assigning, as DPS shows it then: the id, the
    /// dates and <c>status: assigning</c>; no hub, device id, substatus, payload or credentials yet (those come with the
    /// assignment).
    /// </summary>
    public static DeviceRegistrationResult AssigningDeviceResult(RegistrationRecord record) => new()
    {
        RegistrationId = record.RegistrationId,
        CreatedDateTimeUtc = record.CreatedDateTimeUtc,
        Status = "assigning",
        LastUpdatedDateTimeUtc = record.LastUpdatedDateTimeUtc,
        Etag = AssigningEtag(record),
    };

    /// <summary>
    /// The etag of a registration while it is assigning: derived from the record's, and different from it, because the
    /// state changes when the assignment completes (an <c>If-Match</c> read during the delay no longer matches after it).
    /// </summary>
    public static string AssigningEtag(RegistrationRecord record)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes("assigning/" + record.Etag), digest);
        return Convert.ToBase64String(digest[..6]);
    }

    /// <summary>The <c>registrationState</c> of a record.</summary>
    public static DeviceRegistrationResult ToDeviceResult(RegistrationRecord record) => new()
    {
        RegistrationId = record.RegistrationId,
        CreatedDateTimeUtc = record.CreatedDateTimeUtc,
        AssignedHub = record.AssignedHub,
        DeviceId = record.DeviceId,
        Status = record.Status,
        Substatus = record.Status == "assigned" ? record.Substatus : null,
        ErrorCode = record.ErrorCode,
        ErrorMessage = record.ErrorMessage,
        LastUpdatedDateTimeUtc = record.LastUpdatedDateTimeUtc,
        Etag = record.Etag,
        GenerationId = record.GenerationId,
        Payload = record.Payload,
        Tpm = record.AttestationType == "tpm" && record.TpmAuthenticationKey is { } blob ? new TpmRegistrationResult { AuthenticationKey = blob } : null,
        X509 = record.AttestationType == "x509"
            ? new X509RegistrationResult { CertificateInfo = record.CertificateInfo, EnrollmentGroupId = record.EnrollmentGroupId, SigningCertificateInfo = record.SigningCertificateInfo }
            : null,
        SymmetricKey = record.AttestationType == "symmetricKey" && record.EnrollmentGroupId is { } g ? new SymmetricKeyRegistrationResult { EnrollmentGroupId = g } : null,
        IssuedCertificateChain = record.IssuedCertificateChain,
    };
}

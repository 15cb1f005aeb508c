using System.Text.Json.Serialization;

namespace Provisioning.Emulator.Json;

/// <summary>The source-generated JSON of every wire and stored shape (no reflection: the library is AOT-compatible).</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    PropertyNameCaseInsensitive = true,
    AllowTrailingCommas = false,
    WriteIndented = false)]
[JsonSerializable(typeof(DeviceRegistrationRequest))]
[JsonSerializable(typeof(TpmChallengeBody))]
[JsonSerializable(typeof(RegistrationOperationStatus))]
[JsonSerializable(typeof(DeviceRegistrationResult))]
[JsonSerializable(typeof(DpsErrorBody))]
[JsonSerializable(typeof(IndividualEnrollment))]
[JsonSerializable(typeof(EnrollmentGroup))]
[JsonSerializable(typeof(List<IndividualEnrollment>))]
[JsonSerializable(typeof(List<EnrollmentGroup>))]
[JsonSerializable(typeof(DeviceRegistrationState))]
[JsonSerializable(typeof(List<DeviceRegistrationState>))]
[JsonSerializable(typeof(QuerySpecification))]
[JsonSerializable(typeof(AttestationMechanism))]
[JsonSerializable(typeof(CustomAllocationRequest))]
[JsonSerializable(typeof(CustomAllocationResponse))]
[JsonSerializable(typeof(RegistrationRecord))]
[JsonSerializable(typeof(StoredHubDevice))]
[JsonSerializable(typeof(EmulatorInfoFile))]
[JsonSerializable(typeof(SeedFile))]
[JsonSerializable(typeof(BulkEnrollmentOperation))]
[JsonSerializable(typeof(BulkEnrollmentOperationResult))]
[JsonSerializable(typeof(BulkEnrollmentGroupOperation))]
[JsonSerializable(typeof(BulkEnrollmentGroupOperationResult))]
internal sealed partial class EmulatorJsonContext : JsonSerializerContext
{
}

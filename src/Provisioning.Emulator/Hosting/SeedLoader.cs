using System.Text.Json;

using Provisioning.Emulator.Json;
using Provisioning.Emulator.Service;
using Provisioning.Emulator.Storage;

namespace Provisioning.Emulator.Hosting;

/// <summary>Reads a seed file and stores its enrollments, validated like the service API would.</summary>
internal static class SeedLoader
{
    public static async Task<SeedFile> ReadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = File.OpenRead(path);
            var seed = await JsonSerializer.DeserializeAsync(stream, EmulatorJsonContext.Default.SeedFile, cancellationToken).ConfigureAwait(false)
                ?? throw new ArgumentException($"The seed file '{path}' is empty.", nameof(path));
            if (seed.Hubs?.Any(h => string.IsNullOrWhiteSpace(h.HostName)) == true)
            {
                throw new ArgumentException($"The seed file '{path}' has a hub without hostName.", nameof(path));
            }

            return seed;
        }
        catch (JsonException ex)
        {
            throw new ArgumentException($"The seed file '{path}' is not valid JSON: {ex.Message}", nameof(path), ex);
        }
    }

    public static async Task ApplyAsync(SeedFile seed, EmulatorStore store, EnrollmentValidator validator, TimeProvider time, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow().UtcDateTime;
        var batch = new StoreBatch();
        foreach (var enrollment in seed.Enrollments ?? [])
        {
            var problem = string.IsNullOrWhiteSpace(enrollment.RegistrationId) ? "registrationId is missing"
                : !Protocol.RegistrationIds.IsValid(enrollment.RegistrationId) ? $"registrationId is invalid: a registration id is {Protocol.RegistrationIds.Rule}"
                : validator.Validate(enrollment);
            if (problem is not null)
            {
                throw new ArgumentException($"Seed enrollment '{enrollment.RegistrationId}': {problem}");
            }

            enrollment.RegistrationState = null; // the service's, not the seed's
            enrollment.ProvisioningStatus ??= "enabled";
            enrollment.AllocationPolicy ??= "hashed";
            enrollment.CreatedDateTimeUtc ??= now;
            enrollment.LastUpdatedDateTimeUtc = now;
            enrollment.Etag ??= Enrollments.EnrollmentFactory.NewEtag();
            batch.PutEnrollment(enrollment);
        }

        foreach (var group in seed.EnrollmentGroups ?? [])
        {
            var problem = string.IsNullOrWhiteSpace(group.EnrollmentGroupId) ? "enrollmentGroupId is missing"
                : !Protocol.RegistrationIds.IsValid(group.EnrollmentGroupId) ? $"enrollmentGroupId is invalid: an enrollment group id is {Protocol.RegistrationIds.Rule}"
                : validator.Validate(group);
            if (problem is not null)
            {
                throw new ArgumentException($"Seed enrollment group '{group.EnrollmentGroupId}': {problem}");
            }

            group.ProvisioningStatus ??= "enabled";
            group.AllocationPolicy ??= "hashed";
            group.CreatedDateTimeUtc ??= now;
            group.LastUpdatedDateTimeUtc = now;
            group.Etag ??= Enrollments.EnrollmentFactory.NewEtag();
            batch.PutGroup(group);
        }

        await store.CommitAsync(batch, cancellationToken).ConfigureAwait(false);
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

using Provisioning.Emulator.Allocation;
using Provisioning.Emulator.Certificates;
using Provisioning.Emulator.Hubs;
using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;
using Provisioning.Emulator.Storage;
using Provisioning.Emulator.Tpm;

namespace Provisioning.Emulator.Device;

/// <summary>
/// Assigns an authenticated device: chooses the hub (allocation policy, reprovision policy), writes the registration
/// and the hub device in one commit, and returns the registration state the device sees.
/// </summary>
internal sealed class RegistrationProcessor(
    EmulatorStore store, DpsEmulatorOptions options, IReadOnlyList<LinkedHub> hubs, CustomAllocationClient webhook, EmulatorCertificateAuthority authority)
{
    private readonly SemaphoreSlim[] _locks = Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1)).ToArray();

    /// <summary>Registers the device; never throws for bad input (failures become a <c>failed</c> state).</summary>
    public async Task<RegistrationRecord> RegisterAsync(DeviceIdentity identity, JsonElement? devicePayload, string? deviceRegion, CertificateRequest? csr, string operationId, CancellationToken cancellationToken)
    {
        var gate = _locks[(int)((uint)StringComparer.OrdinalIgnoreCase.GetHashCode(identity.RegistrationId) % (uint)_locks.Length)];
        await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await RegisterLockedAsync(identity, devicePayload, deviceRegion, csr, operationId, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            gate.Release();
        }
    }

    private async Task<RegistrationRecord> RegisterLockedAsync(DeviceIdentity identity, JsonElement? devicePayload, string? deviceRegion, CertificateRequest? csr, string operationId, CancellationToken cancellationToken)
    {
        var now = options.TimeProvider.GetUtcNow().UtcDateTime;
        store.Registrations.TryGetValue(identity.RegistrationId, out var previous);
        var settings = EnrollmentView.From(identity);
        var record = new RegistrationRecord
        {
            // The registration keeps the casing it was first registered with, as its stored row does.
            RegistrationId = previous?.RegistrationId ?? identity.RegistrationId,
            CreatedDateTimeUtc = previous?.CreatedDateTimeUtc ?? now,
            LastUpdatedDateTimeUtc = now,
            Etag = NewEtag(),
            GenerationId = previous?.GenerationId ?? Guid.NewGuid().ToString(),
            AttestationType = identity.AttestationType,
            EnrollmentGroupId = identity.Group?.EnrollmentGroupId,
            CertificateInfo = identity.ClientCertificate is { } leaf ? CertificateText.Describe(leaf) : null,
            SigningCertificateInfo = identity.SigningCertificate is { } signer ? CertificateText.Describe(signer) : null,
            LastOperationId = operationId,
        };
        var batch = new StoreBatch();

        if (identity.Disabled)
        {
            record.Status = "disabled";
            record.DeviceId = previous?.DeviceId;
            record.AssignedHub = previous?.AssignedHub;
            batch.PutRegistration(record);
            await store.CommitAsync(batch, cancellationToken).ConfigureAwait(false);
            return record;
        }

        var candidates = Candidates(settings);
        var previousHub = previous is { Status: "assigned" } ? previous.AssignedHub : null;
        string? hubName;
        JsonElement? twin = settings.InitialTwin;
        if (previousHub is not null && !settings.Reprovision.UpdateHubAssignment)
        {
            hubName = previousHub;
        }
        else
        {
            var (chosen, customTwin, payload, failure) = await AllocateAsync(identity, settings, candidates, devicePayload, deviceRegion, previous, cancellationToken).ConfigureAwait(false);
            if (chosen is null)
            {
                record.Status = "failed";
                record.ErrorCode = failure!.Value.Code;
                record.ErrorMessage = failure.Value.Message;
                batch.PutRegistration(record);
                await store.CommitAsync(batch, cancellationToken).ConfigureAwait(false);
                return record;
            }

            hubName = chosen;
            twin = customTwin ?? twin;
            record.Payload = payload;
        }

        // Registration ids are case-insensitive (DPS), IoT Hub device ids are not: a re-registration that differs only in case
        // keeps the device id assigned first, so the device already connected under it is not orphaned at its hub.
        var deviceId = settings.DeviceId
            ?? (previous?.DeviceId is { } first && Protocol.RegistrationIds.Comparer.Equals(first, identity.RegistrationId) ? first : identity.RegistrationId);
        record.Status = "assigned";
        record.AssignedHub = hubName;
        record.DeviceId = deviceId;
        record.Substatus = previousHub is null ? "initialAssignment"
            : !string.Equals(previousHub, hubName, StringComparison.OrdinalIgnoreCase) ? (settings.Reprovision.MigrateDeviceData ? "deviceDataMigrated" : "deviceDataReset")
            : settings.Reprovision.MigrateDeviceData || !settings.Reprovision.UpdateHubAssignment ? "initialAssignment" : "deviceDataReset";

        var (hubDevice, blob) = CreateHubDevice(identity, hubName, deviceId, twin);
        // Hubs reset a device's twin when its TwinGeneration changes (issue 6): a new one unless the device's data is kept.
        var keepsData = previousHub is not null && record.Substatus != "deviceDataReset";
        var kept = keepsData && previous!.DeviceId is { } keptId ? await store.FindAsync(previousHub!, keptId, cancellationToken).ConfigureAwait(false) : null;
        hubDevice = hubDevice with { TwinGeneration = keepsData ? kept?.TwinGeneration : Guid.NewGuid().ToString("N") };
        record.TpmAuthenticationKey = blob;
        if (csr is not null)
        {
            // The device connects to its hub with the issued certificate from now on.
            using var issued = authority.IssueClientCertificate(csr, options.IssuedCertificateValidity);
            record.IssuedCertificateChain = [Convert.ToBase64String(issued.RawData), Convert.ToBase64String(authority.Certificate.RawData)];
            // IoT Hub's CA authentication needs CN = device id; an individual enrollment naming another device id (the CN is the
            // registration id) falls back to the issued certificate's thumbprint.
            var byAuthority = string.Equals(issued.GetNameInfo(X509NameType.SimpleName, forIssuer: false), deviceId, StringComparison.Ordinal);
            hubDevice = hubDevice with
            {
                Kind = byAuthority ? HubCredentialKind.CertificateAuthority : HubCredentialKind.X509,
                PrimaryKey = null,
                SecondaryKey = null,
                Thumbprint = CertificateText.Sha256Thumbprint(issued),
            };
        }
        if (previous is { AssignedHub: { } oldHub, DeviceId: { } oldDevice }
            && (!string.Equals(oldHub, hubName, StringComparison.OrdinalIgnoreCase) || !string.Equals(oldDevice, deviceId, StringComparison.OrdinalIgnoreCase)))
        {
            batch.RemoveHubDevice(oldHub, oldDevice);
        }

        batch.PutHubDevice(hubDevice);
        batch.PutRegistration(record);
        await store.CommitAsync(batch, cancellationToken).ConfigureAwait(false);
        return record;
    }

    private List<LinkedHub> Candidates(EnrollmentView settings)
    {
        if (settings.IotHubs is { Count: > 0 } named)
        {
            return hubs.Where(h => named.Contains(h.HostName, StringComparer.OrdinalIgnoreCase)).ToList();
        }

        if (settings.IotHubHostName is { } single)
        {
            return hubs.Where(h => string.Equals(h.HostName, single, StringComparison.OrdinalIgnoreCase)).ToList();
        }

        return [.. hubs];
    }

    private async Task<(string? Hub, JsonElement? Twin, JsonElement? Payload, (int Code, string Message)? Failure)> AllocateAsync(
        DeviceIdentity identity, EnrollmentView settings, List<LinkedHub> candidates, JsonElement? devicePayload, string? deviceRegion,
        RegistrationRecord? previous, CancellationToken cancellationToken)
    {
        if (candidates.Count == 0)
        {
            return (null, null, null, (DpsErrorCodes.HubNotSpecified, "No linked IoT hub is available to this enrollment."));
        }

        switch (settings.AllocationPolicy?.ToLowerInvariant())
        {
            case "static":
                return (candidates[0].HostName, null, null, null);
            case "geolatency":
                return (HubAllocator.GeoLatency(identity.RegistrationId, deviceRegion ?? options.DefaultDeviceRegion, candidates).HostName, null, null, null);
            case "custom":
                break;
            default:
                return (HubAllocator.Hashed(identity.RegistrationId, candidates).HostName, null, null, null);
        }

        if (!Uri.TryCreate(settings.Custom?.WebhookUrl, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
        {
            return (null, null, null, (DpsErrorCodes.CustomAllocationFailed, "The enrollment has no valid custom allocation webhook URL."));
        }

        var request = new CustomAllocationRequest
        {
            IndividualEnrollment = identity.Enrollment,
            EnrollmentGroup = identity.Enrollment is null ? identity.Group : null,
            LinkedHubs = candidates.Select(h => h.HostName).ToList(),
            DeviceRuntimeContext = new DeviceRuntimeContext
            {
                RegistrationId = identity.RegistrationId,
                CurrentIotHubHostName = previous?.AssignedHub,
                CurrentDeviceId = previous?.DeviceId,
                Payload = devicePayload,
                SymmetricKey = identity.AttestationType == "symmetricKey" ? [] : null,
                Tpm = identity.AttestationType == "tpm" ? new TpmAttestationBody
                {
                    EndorsementKey = Convert.ToBase64String(identity.EndorsementKey!),
                    StorageRootKey = identity.StorageRootKey is { } srk ? Convert.ToBase64String(srk) : null,
                } : null,
                X509 = identity.ClientCertificate is { } cert ? new DeviceRuntimeX509
                {
                    ClientCertificate = Convert.ToBase64String(cert.RawData),
                    ClientCertificateIssuer = cert.Issuer,
                } : null,
            },
        };
        var (response, failure) = await webhook.CallAsync(url, request, cancellationToken).ConfigureAwait(false);
        if (response is null)
        {
            return (null, null, null, (DpsErrorCodes.CustomAllocationFailed, failure!));
        }

        var hub = candidates.FirstOrDefault(h => string.Equals(h.HostName, response.IotHubHostName, StringComparison.OrdinalIgnoreCase));
        if (hub is null)
        {
            return (null, null, null, (DpsErrorCodes.HubNotSpecified, "The custom allocation webhook did not choose one of the linked hubs."));
        }

        return (hub.HostName, response.InitialTwin, response.Payload, null);
    }

    private (HubDevice Device, string? Blob) CreateHubDevice(DeviceIdentity identity, string hub, string deviceId, JsonElement? twin)
    {
        var desired = twin is { ValueKind: JsonValueKind.Object } t && t.TryGetProperty("properties", out var p)
            && p.ValueKind == JsonValueKind.Object && p.TryGetProperty("desired", out var d) ? d.GetRawText() : null;
        switch (identity.AttestationType)
        {
            case "tpm":
                // A fresh identity key for the hub, wrapped to this TPM (dps-protocol.md §1.6: the device activates it again).
                var credential = options.TpmCredentialIssuer!.Issue(identity.EndorsementKey, identity.StorageRootKey);
                return (new HubDevice(hub, deviceId, HubCredentialKind.Tpm, credential.IdentityKey, null, null, true, desired),
                    Convert.ToBase64String(credential.AuthenticationKey));
            case "x509":
                return (new HubDevice(hub, deviceId, HubCredentialKind.X509, null, null, CertificateText.Sha256Thumbprint(identity.ClientCertificate!), true, desired), null);
            default:
                return (new HubDevice(hub, deviceId, HubCredentialKind.SymmetricKey, identity.PrimaryKey, identity.SecondaryKey, null, true, desired), null);
        }
    }

    private static string NewEtag() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(6));
}

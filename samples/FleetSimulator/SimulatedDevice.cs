using System.Diagnostics;
using System.Text;

using Provisioning.Device;
using Provisioning.Device.Hub;
using Provisioning.Device.Tpm;
using Provisioning.Emulator.Enrollments;

namespace Provisioning.Samples.FleetSimulator;

/// <summary>What happened to one device.</summary>
internal sealed record DeviceOutcome(string RegistrationId, string? AssignedHub, TimeSpan Latency, bool TelemetryDelivered, string? Error, string? DeviceId = null)
{
    public bool Assigned => AssignedHub is not null;

    public bool Lost => !Assigned || !TelemetryDelivered;
}

/// <summary>
/// One device of the fleet: its own identity (a key derived from the group key, or its own software TPM enrolled by its
/// EK), a registration, then one telemetry message to the assigned hub, checked in the hub's own record.
/// </summary>
internal sealed class SimulatedDevice(Fleet fleet, int index)
{
    public async Task<DeviceOutcome> RunAsync(CancellationToken cancellationToken)
    {
        var registrationId = $"fleet-device-{index:D6}";
        try
        {
            if (fleet.Options.Tpm)
            {
                // An ephemeral software TPM: a new EK (and so a new device) every run.
                var tpm = TpmIdentity.Open("software");
                await using (tpm.ConfigureAwait(false))
                {
                    await tpm.EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
                    registrationId = await tpm.GetRegistrationIdAsync(cancellationToken).ConfigureAwait(false);
                    var ek = await tpm.GetEndorsementKeyAsync(cancellationToken).ConfigureAwait(false);
                    await fleet.Dps.Enrollments.AddTpmAsync(registrationId, ek, fleet.EnrollmentSettings, cancellationToken).ConfigureAwait(false);
                    using var attestation = new TpmAttestation(tpm);
                    return await RegisterAndSendAsync(registrationId, attestation, cancellationToken).ConfigureAwait(false);
                }
            }

            using var symmetric = new SymmetricKeyAttestation(registrationId, fleet.GroupKeys!.DeriveDeviceKey(registrationId));
            return await RegisterAndSendAsync(registrationId, symmetric, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // One device's failure is a figure of the run, not the end of it.
            return new DeviceOutcome(registrationId, null, TimeSpan.Zero, false, ex.GetType().Name + ": " + ex.Message);
        }
    }

    private async Task<DeviceOutcome> RegisterAndSendAsync(string registrationId, ProvisioningAttestation attestation, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        TimeSpan? latency = null;
        DeviceRegistrationResult? last = null;
        using var provisioning = new ProvisioningDeviceClient(fleet.Endpoint, fleet.Dps.IdScope, attestation, fleet.ClientOptions);
        // The library's one hand-off: registration, then the hub, back to DPS if the hub refuses or stays unreachable for a
        // minute; a device that is not connected after three rounds is lost, not waited for.
        var connector = new DeviceConnector(provisioning, new DeviceConnectorOptions
        {
            HubOptions = new DeviceClientOptions().UseEmulatorHubs(fleet.Dps),
            HubUnreachableTimeout = TimeSpan.FromMinutes(1),
            MaxAttempts = 3,
        });
        connector.Registered += (_, result) =>
        {
            last = result;
            if (result.Status == ProvisioningRegistrationStatus.Assigned && latency is null)
            {
                latency = clock.Elapsed;
                fleet.OnAssigned();
            }
        };

        DeviceClient device;
        try
        {
            device = await connector.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ProvisioningException) when (last is { Status: not ProvisioningRegistrationStatus.Assigned } refused)
        {
            return new DeviceOutcome(registrationId, null, clock.Elapsed, false, $"DPS answered {refused.Status}: {refused.ErrorCode} {refused.ErrorMessage}");
        }

        var result = device.Registration!;
        await using (device.ConfigureAwait(false))
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(1));
            await device.SendEventAsync(new HubMessage(Encoding.UTF8.GetBytes($$"""{"device":{{index}},"temperature":{{20 + (index % 10)}}}""")), timeout.Token).ConfigureAwait(false);
        }

        // The hub records a message before it acknowledges it: its count is the proof of delivery.
        var delivered = fleet.Dps.GetHub(result.AssignedHub!).GetTelemetryCount(result.DeviceId!) > 0;
        return new DeviceOutcome(registrationId, result.AssignedHub, latency ?? clock.Elapsed, delivered, delivered ? null : "the hub has no record of the message", result.DeviceId);
    }
}

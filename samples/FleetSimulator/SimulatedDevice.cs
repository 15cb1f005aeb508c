using System.Diagnostics;
using System.Text;

using Provisioning.Device;
using Provisioning.Device.Hub;
using Provisioning.Device.Tpm;
using Provisioning.Emulator.Enrollments;

namespace Provisioning.Samples.FleetSimulator;

/// <summary>What happened to one device.</summary>
internal sealed record DeviceOutcome(string RegistrationId, string? AssignedHub, TimeSpan Latency, bool TelemetryDelivered, string? Error)
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
        DeviceRegistrationResult result;
        using (var client = new ProvisioningDeviceClient(fleet.Endpoint, fleet.Dps.IdScope, attestation, fleet.ClientOptions))
        {
            result = await client.RegisterAsync(cancellationToken).ConfigureAwait(false);
        }

        var latency = clock.Elapsed;
        if (result.Status != ProvisioningRegistrationStatus.Assigned)
        {
            return new DeviceOutcome(registrationId, null, latency, false, $"DPS answered {result.Status}: {result.ErrorCode} {result.ErrorMessage}");
        }

        fleet.OnAssigned();
        var device = DeviceClient.Create(result, attestation, new DeviceClientOptions().UseEmulatorHubs(fleet.Dps));
        await using (device.ConfigureAwait(false))
        {
            // The hub client reconnects without end; a device that cannot reach its hub in a minute is lost, not waited for.
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(1));
            await device.OpenAsync(timeout.Token).ConfigureAwait(false);
            await device.SendEventAsync(new HubMessage(Encoding.UTF8.GetBytes($$"""{"device":{{index}},"temperature":{{20 + (index % 10)}}}""")), timeout.Token).ConfigureAwait(false);
        }

        // The hub records a message before it acknowledges it: its count is the proof of delivery.
        var delivered = fleet.Dps.GetHub(result.AssignedHub!).GetTelemetryCount(result.DeviceId!) > 0;
        return new DeviceOutcome(registrationId, result.AssignedHub, latency, delivered, delivered ? null : "the hub has no record of the message");
    }
}

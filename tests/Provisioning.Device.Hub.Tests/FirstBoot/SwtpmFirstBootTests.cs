using Provisioning.Device.Tpm;
using Provisioning.Emulator.Hubs;
using Provisioning.Testing;

namespace Provisioning.Device.Hub.Tests.FirstBoot;

/// <summary>First boot to first telemetry with a real TPM 2.0 (swtpm): the EK and SRK from the TPM, the DPS challenge and the
/// hub key activated inside it, every hub SAS signed by it (dps-protocol.md §2.3, §8).</summary>
[Trait("Category", "Interop")]
public sealed class SwtpmFirstBootTests(SwtpmFixture swtpm) : IClassFixture<SwtpmFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task FirstBoot_Swtpm_ConnectsWithTheActivatedHubKey_AndSendsTelemetry()
    {
        var instance = await swtpm.GetAsync();
        await using var bed = await FirstBootBed.StartAsync();
        await using var tpm = TpmIdentity.Open(instance.TransportSpec);
        var registrationId = await tpm.GetRegistrationIdAsync(Ct);
        await bed.Dps.Enrollments.AddTpmAsync(registrationId, await tpm.GetEndorsementKeyAsync(Ct), cancellationToken: Ct);
        using var attestation = new TpmAttestation(tpm);

        var (result, received) = await bed.FirstBootAsync(attestation);

        Assert.Equal(registrationId, received.DeviceId);
        var device = await bed.HubDeviceAsync(result);
        Assert.Equal(HubCredentialKind.Tpm, device.Kind);
        await FirstBootBed.AssertSignsWithAsync(attestation, result, device.PrimaryKey!);
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

using Provisioning.Device.Tpm;

namespace Provisioning.Device.Benchmarks;

/// <summary>The devices to provision, with their enrollments made beforehand (outside every measured phase).</summary>
internal sealed class DeviceFleet : IAsyncDisposable
{
    private readonly BenchmarkDevice[] _devices;

    private DeviceFleet(BenchmarkDevice[] devices, TimeSpan preparation)
    {
        _devices = devices;
        PreparationTime = preparation;
    }

    public int Count => _devices.Length;

    public TimeSpan PreparationTime { get; }

    /// <summary>Symmetric key: members of one group (derived keys). TPM: one software TPM and one individual enrollment each.</summary>
    public static async Task<DeviceFleet> CreateAsync(string attestation, int count, BenchmarkEmulator emulator)
    {
        var started = Stopwatch.StartNew();
        var devices = new BenchmarkDevice[count];
        if (attestation == "symmetric")
        {
            string groupKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
            await emulator.AddSymmetricKeyGroupAsync("bench-group", groupKey);
            for (int i = 0; i < count; i++)
            {
                string id = "bench-device-" + i.ToString(CultureInfo.InvariantCulture);
                devices[i] = new BenchmarkDevice(SymmetricKeyAttestation.FromEnrollmentGroup(id, groupKey), null);
            }
        }
        else
        {
            // Key generation in the software TPM dominates preparation; both cores share it.
            await Parallel.ForAsync(0, count, async (i, ct) =>
            {
                TpmIdentity identity = TpmIdentity.Open("software");
                string id = await identity.GetRegistrationIdAsync(ct);
                await emulator.AddTpmAsync(id, await identity.GetEndorsementKeyAsync(ct));
                devices[i] = new BenchmarkDevice(new TpmAttestation(identity), identity);
            });
        }

        return new DeviceFleet(devices, started.Elapsed);
    }

    public ArraySegment<BenchmarkDevice> Take(int start, int count) => new(_devices, start, count);

    public async ValueTask DisposeAsync()
    {
        foreach (BenchmarkDevice device in _devices)
        {
            device.Attestation.Dispose();
            if (device.Tpm is { } tpm)
            {
                await tpm.DisposeAsync();
            }
        }
    }
}

/// <summary>One device: its attestation, and the TPM identity behind it when it has one.</summary>
internal sealed record BenchmarkDevice(ProvisioningAttestation Attestation, TpmIdentity? Tpm);

using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

using Provisioning.Device.Tpm;
using Provisioning.Testing;

namespace Provisioning.Device.Benchmarks;

/// <summary>The devices to provision, with their enrollments made beforehand (outside every measured phase).</summary>
internal sealed class DeviceFleet : IAsyncDisposable
{
    private readonly BenchmarkDevice[] _devices;
    private readonly SharedSwtpm[] _swtpms;

    private DeviceFleet(BenchmarkDevice[] devices, SharedSwtpm[] swtpms, TimeSpan preparation)
    {
        _devices = devices;
        _swtpms = swtpms;
        PreparationTime = preparation;
    }

    public int Count => _devices.Length;

    public TimeSpan PreparationTime { get; }

    /// <summary>
    /// Symmetric key: members of one group (derived keys). TPM on the software TPM: one TPM and one individual enrollment
    /// each. TPM on swtpm: <paramref name="swtpms"/> fresh swtpm processes (EK and SRK made once each); device <c>i</c> uses
    /// swtpm <c>i mod n</c> under its own registration id, enrolled with that TPM's EK, and holds it for its whole
    /// registration (a TPM serves one client at a time, and the identity key handle is the TPM's).
    /// </summary>
    public static async Task<DeviceFleet> CreateAsync(string attestation, string tpmKind, int swtpms, int count, BenchmarkEmulator emulator)
    {
        var started = Stopwatch.StartNew();
        var devices = new BenchmarkDevice[count];
        SharedSwtpm[] pool = [];
        if (attestation == "symmetric")
        {
            string groupKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
            await emulator.AddSymmetricKeyGroupAsync("bench-group", groupKey);
            for (int i = 0; i < count; i++)
            {
                string id = "bench-device-" + i.ToString(CultureInfo.InvariantCulture);
                devices[i] = new BenchmarkDevice(SymmetricKeyAttestation.FromEnrollmentGroup(id, groupKey), null, null, id);
            }
        }
        else if (tpmKind == "software")
        {
            // Key generation in the software TPM dominates preparation; both cores share it.
            await Parallel.ForAsync(0, count, async (i, ct) =>
            {
                TpmIdentity identity = TpmIdentity.Open("software");
                string id = await identity.GetRegistrationIdAsync(ct);
                await emulator.AddTpmAsync(id, await identity.GetEndorsementKeyAsync(ct));
                devices[i] = new BenchmarkDevice(new TpmAttestation(identity), identity, null, id);
            });
        }
        else
        {
            if (!Swtpm.IsInstalled)
            {
                throw new InvalidOperationException("--tpm swtpm needs swtpm (apt-get install swtpm swtpm-tools); --tpm software runs without it.");
            }

            pool = new SharedSwtpm[Math.Min(swtpms, count)];
            for (int k = 0; k < pool.Length; k++)
            {
                pool[k] = await SharedSwtpm.StartAsync();
            }

            for (int i = 0; i < count; i++)
            {
                SharedSwtpm tpm = pool[i % pool.Length];
                string id = "bench-tpm-" + i.ToString(CultureInfo.InvariantCulture);
                await emulator.AddTpmAsync(id, tpm.EndorsementKey);
                devices[i] = new BenchmarkDevice(null, null, tpm, id);
            }
        }

        return new DeviceFleet(devices, pool, started.Elapsed);
    }

    public ArraySegment<BenchmarkDevice> Take(int start, int count) => new(_devices, start, count);

    public async ValueTask DisposeAsync()
    {
        foreach (BenchmarkDevice device in _devices)
        {
            device.Attestation?.Dispose();
            if (device.Tpm is { } tpm)
            {
                await tpm.DisposeAsync();
            }
        }

        foreach (SharedSwtpm swtpm in _swtpms)
        {
            await swtpm.DisposeAsync();
        }
    }
}

/// <summary>One device: its attestation (or, on a shared swtpm, the TPM it boots with), and the TPM identity behind it when it has one.</summary>
internal sealed record BenchmarkDevice(ProvisioningAttestation? Attestation, TpmIdentity? Tpm, SharedSwtpm? Swtpm, string RegistrationId);

/// <summary>One swtpm process and the one connection to it the devices that use it take turns on.</summary>
internal sealed class SharedSwtpm : IAsyncDisposable
{
    private readonly SwtpmInstance _instance;

    private SharedSwtpm(SwtpmInstance instance, TpmTransport transport, byte[] endorsementKey)
    {
        _instance = instance;
        Transport = transport;
        EndorsementKey = endorsementKey;
    }

    /// <summary>The connection; swtpm serves one at a time, so every device on this TPM shares it.</summary>
    public TpmTransport Transport { get; }

    /// <summary>Held by a device for its whole registration.</summary>
    public SemaphoreSlim Turn { get; } = new(1, 1);

    public byte[] EndorsementKey { get; }

    /// <summary>A fresh swtpm with its EK and SRK created and persisted (as a shipped device's are).</summary>
    public static async Task<SharedSwtpm> StartAsync()
    {
        SwtpmInstance instance = await SwtpmInstance.StartNewAsync();
        TpmTransport transport = TpmTransport.Open(instance.TransportSpec);
        await using var identity = new TpmIdentity(transport, ownsTransport: false);
        return new SharedSwtpm(instance, transport, await identity.GetEndorsementKeyAsync());
    }

    public async ValueTask DisposeAsync()
    {
        await Transport.DisposeAsync();
        await _instance.DisposeAsync();
        Turn.Dispose();
    }
}

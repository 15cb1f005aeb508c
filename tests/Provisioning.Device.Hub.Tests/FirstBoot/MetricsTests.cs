using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Provisioning.Device.Tpm;
using Provisioning.Emulator;

namespace Provisioning.Device.Hub.Tests.FirstBoot;

/// <summary>
/// The four meters, read with a <see cref="MeterListener"/> over a whole first boot with a software TPM against the in-process
/// emulator. The class runs alone (its collection disables parallelization): the meters are process-wide, so exact counts
/// hold only while no other test records.
/// </summary>
[Collection(nameof(MetricsTests))]
public sealed class MetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task FirstBoot_RecordsRegistrationTpmHubAndEmulatorInstruments_WithNoDeviceIdInTags()
    {
        await using var bed = await FirstBootBed.StartAsync();
        await using var tpm = TpmIdentity.Open("software");
        var registrationId = await tpm.GetRegistrationIdAsync(Ct);
        await bed.Dps.Enrollments.AddTpmAsync(registrationId, await tpm.GetEndorsementKeyAsync(Ct), cancellationToken: Ct);
        using var attestation = new TpmAttestation(tpm);

        using var recorder = new Recorder();
        bed.Dps.Faults.Add(new Provisioning.Emulator.Faults.FaultRule
        {
            Endpoint = Provisioning.Emulator.Faults.DpsEndpoint.OperationStatus,
            Kind = Provisioning.Emulator.Faults.FaultKind.ServiceUnavailable,
            Probability = 1,
            MaxFaults = 1,
            RetryAfter = TimeSpan.Zero,
        });
        await bed.FirstBootAsync(attestation);

        // Provisioning.Device: one assigned TPM registration over HTTPS, with a duration, and the one retry the fault caused.
        var registration = Assert.Single(recorder.Named(ProvisioningTelemetry.RegistrationsInstrument));
        Assert.Equal(1, registration.Value);
        Assert.Equal("assigned", registration.Tags[ProvisioningTelemetry.OutcomeTag]);
        Assert.Equal("tpm", registration.Tags[ProvisioningTelemetry.AttestationTag]);
        Assert.Equal("https", registration.Tags[ProvisioningTelemetry.TransportTag]);
        var duration = Assert.Single(recorder.Named(ProvisioningTelemetry.RegistrationDurationInstrument));
        Assert.True(duration.Value > 0);
        var retry = Assert.Single(recorder.Named(ProvisioningTelemetry.RetriesInstrument));
        Assert.Equal("tpm", retry.Tags[ProvisioningTelemetry.AttestationTag]);

        // Provisioning.Device.Tpm: the activation's commands were timed, each named.
        var commands = recorder.Named(TpmTelemetry.CommandDurationInstrument);
        Assert.Contains(commands, c => (string?)c.Tags[TpmTelemetry.CommandTag] == nameof(TpmCommandCode.ActivateCredential) && (string?)c.Tags[TpmTelemetry.ResultTag] == "success");
        Assert.Contains(commands, c => (string?)c.Tags[TpmTelemetry.CommandTag] == nameof(TpmCommandCode.Import));
        Assert.All(commands, c => Assert.True(c.Value >= 0));

        // Provisioning.Device.Hub: one message sent and acknowledged; connecting +1, then connecting −1 / connected +1, then
        // connected −1 when the client closed: nothing is left connected.
        Assert.Equal(1, recorder.Sum(HubTelemetry.MessagesSentInstrument));
        Assert.Equal(1, recorder.Sum(HubTelemetry.MessagesAcknowledgedInstrument));
        var states = recorder.Named(HubTelemetry.ConnectionsInstrument);
        Assert.Contains(states, s => (string?)s.Tags[HubTelemetry.StateTag] == "connected" && s.Value == 1);
        Assert.Equal(0, states.Where(s => (string?)s.Tags[HubTelemetry.StateTag] == "connected").Sum(s => s.Value));

        // Provisioning.Emulator: one assigned TPM registration, and the injected 503 as an error.
        var decided = Assert.Single(recorder.Named(EmulatorTelemetry.RegistrationsInstrument));
        Assert.Equal("assigned", decided.Tags[EmulatorTelemetry.StatusTag]);
        Assert.Equal("tpm", decided.Tags[EmulatorTelemetry.AttestationTag]);
        Assert.Contains(recorder.Named(EmulatorTelemetry.ErrorsInstrument), e => e.Tags[EmulatorTelemetry.ErrorCodeTag] is int code && code / 1000 == 503);

        // No tag value anywhere is the registration id.
        Assert.DoesNotContain(recorder.All, m => m.Tags.Values.Any(v => v as string == registrationId));
    }

    [Fact]
    public async Task CacheHit_IsCountedAsCached_WithoutADuration()
    {
        await using var bed = await FirstBootBed.StartAsync();
        var keys = await bed.Dps.Enrollments.AddSymmetricKeyAsync("metrics-cache-01", cancellationToken: Ct);
        using var attestation = new SymmetricKeyAttestation("metrics-cache-01", keys.PrimaryKey);
        var cache = new MemoryCache();
        var options = new ProvisioningClientOptions { RegistrationCache = cache };
        options.TrustedRootCertificates.Add(bed.Dps.CertificateAuthority.Certificate);
        using var client = new ProvisioningDeviceClient(bed.Dps.GlobalEndpoint.ToString(), bed.Dps.IdScope, attestation, options);
        await client.RegisterAsync(Ct);

        using var recorder = new Recorder();
        var again = await client.RegisterAsync(Ct);

        Assert.True(again.IsFromCache);
        var registration = Assert.Single(recorder.Named(ProvisioningTelemetry.RegistrationsInstrument));
        Assert.Equal("cached", registration.Tags[ProvisioningTelemetry.OutcomeTag]);
        Assert.Equal("symmetric_key", registration.Tags[ProvisioningTelemetry.AttestationTag]);
        Assert.Equal("https", registration.Tags[ProvisioningTelemetry.TransportTag]);
        Assert.Empty(recorder.Named(ProvisioningTelemetry.RegistrationDurationInstrument));
    }

    private sealed class MemoryCache : IRegistrationCache
    {
        private CachedRegistration? _entry;

        public ValueTask<CachedRegistration?> LoadAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(_entry);

        public ValueTask SaveAsync(CachedRegistration registration, CancellationToken cancellationToken = default)
        {
            _entry = registration;
            return ValueTask.CompletedTask;
        }

        public ValueTask InvalidateAsync(CancellationToken cancellationToken = default)
        {
            _entry = null;
            return ValueTask.CompletedTask;
        }
    }

    internal sealed record Measurement(string Instrument, double Value, IReadOnlyDictionary<string, object?> Tags);

    /// <summary>Listens to the four meters by their public names and keeps every measurement.</summary>
    internal sealed class Recorder : IDisposable
    {
        private static readonly string[] Meters = [ProvisioningTelemetry.MeterName, TpmTelemetry.MeterName, HubTelemetry.MeterName, EmulatorTelemetry.MeterName];
        private readonly MeterListener _listener = new();
        private readonly ConcurrentQueue<Measurement> _measurements = new();

        public Recorder()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (Meters.Contains(instrument.Meter.Name))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((i, v, t, _) => Add(i, v, t));
            _listener.SetMeasurementEventCallback<double>((i, v, t, _) => Add(i, v, t));
            _listener.Start();
        }

        public IReadOnlyList<Measurement> All => [.. _measurements];

        public List<Measurement> Named(string instrument) => [.. _measurements.Where(m => m.Instrument == instrument)];

        public double Sum(string instrument) => Named(instrument).Sum(m => m.Value);

        public void Dispose() => _listener.Dispose();

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copy = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                copy[tag.Key] = tag.Value;
            }

            _measurements.Enqueue(new Measurement(instrument.Name, value, copy));
        }
    }
}

[CollectionDefinition(nameof(MetricsTests), DisableParallelization = true)]
public sealed class MetricsTestsAlone;

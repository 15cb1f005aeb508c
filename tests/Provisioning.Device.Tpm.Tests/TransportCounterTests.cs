using System.Diagnostics.Metrics;

using Provisioning.Testing;

namespace Provisioning.Device.Tpm.Tests;

/// <summary>The transports' counters of the TPM's own time (<see cref="TpmTelemetry.TransportTimeInstrument"/>) and commands
/// (<see cref="TpmTelemetry.TransportExchangesInstrument"/>). They are process-wide sums and tests run in parallel, so each test
/// asserts at least its own commands and a positive time.</summary>
public sealed class TransportCounterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task SoftwareTpm_CountsEachCommand_AndItsTime()
    {
        await using var transport = new SoftwareTpmTransport();
        await AssertCountedAsync(transport);
    }

    [Fact]
    [Trait("Category", "Interop")]
    public async Task Swtpm_CountsEachCommand_AndItsTime()
    {
        Swtpm.RequireOrSkip();
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var transport = TpmTransport.Open(tpm.TransportSpec);
        await AssertCountedAsync(transport);
    }

    private static async Task AssertCountedAsync(TpmTransport transport)
    {
        using var counters = new Counters();
        var (seconds, commands) = counters.Read();
        var tpm = new TpmCommands(transport) { StartOnDemand = true };
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(8, (await tpm.GetRandomAsync(8, Ct)).Length);
        }

        var (secondsAfter, commandsAfter) = counters.Read();
        // Three GetRandom, plus the first one's TPM_RC_INITIALIZE and Startup on the software TPM (swtpm is started).
        Assert.InRange(commandsAfter - commands, 3, long.MaxValue);
        Assert.True(secondsAfter > seconds, $"the TPM's time did not grow: {seconds} s, then {secondsAfter} s");
    }

    private sealed class Counters : IDisposable
    {
        private readonly MeterListener _listener = new();
        private double _seconds;
        private long _commands;

        public Counters()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == TpmTelemetry.MeterName
                    && instrument.Name is TpmTelemetry.TransportTimeInstrument or TpmTelemetry.TransportExchangesInstrument)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<double>((_, value, _, _) => _seconds = value);
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => _commands = value);
            _listener.Start();
        }

        public (double Seconds, long Commands) Read()
        {
            _listener.RecordObservableInstruments();
            return (_seconds, _commands);
        }

        public void Dispose() => _listener.Dispose();
    }
}

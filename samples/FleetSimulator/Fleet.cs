using System.Collections.Concurrent;
using System.Diagnostics;

using Provisioning.Device;
using Provisioning.Emulator;
using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Faults;

namespace Provisioning.Samples.FleetSimulator;

/// <summary>The fleet's shared setting: the emulated cloud, its enrollment, the client options and the counters.</summary>
internal sealed class Fleet : IAsyncDisposable
{
    private static readonly string[] Regions = ["westus", "eastus"];

    private readonly AllocationWebhook? _webhook;
    private int _finished;
    private int _assigned;
    private int _failed;

    private Fleet(FleetOptions options, DpsEmulator dps, AllocationWebhook? webhook, EnrollmentSettings settings, RetryCounter retries)
    {
        Options = options;
        Dps = dps;
        _webhook = webhook;
        EnrollmentSettings = settings;
        Retries = retries;
        ClientOptions = new ProvisioningClientOptions
        {
            LoggerFactory = retries,
            Transport = options.Mqtt ? ProvisioningTransport.Mqtt : options.Amqp ? ProvisioningTransport.Amqp : ProvisioningTransport.Https,
        };
        ClientOptions.TrustEmulator(dps);
        Endpoint = options.Mqtt ? dps.MqttEndpoint! : options.Amqp ? dps.AmqpEndpoint! : dps.GlobalEndpoint.ToString();
        Requests = new RequestCounter(dps.GlobalEndpoint);
    }

    public FleetOptions Options { get; }

    public DpsEmulator Dps { get; }

    public EnrollmentSettings EnrollmentSettings { get; }

    public ProvisioningClientOptions ClientOptions { get; }

    /// <summary>Where devices dial DPS: the HTTPS endpoint, or the MQTT or AMQP one (<c>host:port</c>).</summary>
    public string Endpoint { get; }

    public RetryCounter Retries { get; }

    /// <summary>The group's keys (symmetric key attestation).</summary>
    public SymmetricKeyPair? GroupKeys { get; private set; }

    public int Finished => Volatile.Read(ref _finished);

    public int Assigned => Volatile.Read(ref _assigned);

    public int Failed => Volatile.Read(ref _failed);

    /// <summary>Starts the emulator with <c>--hubs</c> linked hubs in two regions (geoLatency hashes among the device's
    /// region's hubs), the faults, the webhook for custom allocation, and the symmetric-key enrollment group.</summary>
    public static async Task<Fleet> StartAsync(FleetOptions options, TextWriter? verbose, CancellationToken cancellationToken)
    {
        var dpsOptions = new DpsEmulatorOptions { RetryAfter = TimeSpan.Zero, DefaultDeviceRegion = Regions[0] };
        for (var i = 1; i <= options.Hubs; i++)
        {
            dpsOptions.Hubs.Add(new LinkedHub($"hub{i}.localhost", Regions[(i - 1) % Regions.Length]));
        }

        if (options.Faults > 0)
        {
            // Every DPS request fails with probability --faults: half of the failures are the endpoint's own refusal (429 with
            // Retry-After on registrations, 503 on polls), the other half a dropped connection. The emulator fires the first
            // matching rule, so the drop rule's rate is what leaves the total at exactly --faults. Slow answers come on top.
            var own = options.Faults / 2;
            var drop = (options.Faults - own) / (1 - own);
            dpsOptions.Faults.Add(new FaultRule { Endpoint = DpsEndpoint.Register, Kind = FaultKind.TooManyRequests, Probability = own, Seed = 1 });
            dpsOptions.Faults.Add(new FaultRule { Endpoint = DpsEndpoint.OperationStatus, Kind = FaultKind.ServiceUnavailable, Probability = own, Seed = 2 });
            dpsOptions.Faults.Add(new FaultRule { Endpoint = DpsEndpoint.Register | DpsEndpoint.OperationStatus, Kind = FaultKind.DropConnection, Probability = drop, Seed = 3 });
            dpsOptions.Faults.Add(new FaultRule { Endpoint = DpsEndpoint.Register | DpsEndpoint.OperationStatus, Kind = FaultKind.Delay, Delay = TimeSpan.FromMilliseconds(500), Probability = options.Faults / 2, Seed = 4 });
        }

        var retries = new RetryCounter(verbose);
        var webhook = options.Allocation == AllocationPolicy.Custom ? await AllocationWebhook.StartAsync(cancellationToken).ConfigureAwait(false) : null;
        DpsEmulator? dps = null;
        try
        {
            dps = await DpsEmulator.StartAsync(dpsOptions, cancellationToken).ConfigureAwait(false);
            var settings = new EnrollmentSettings
            {
                AllocationPolicy = options.Allocation,
                IotHubs = options.Allocation == AllocationPolicy.Static ? [dpsOptions.Hubs[0].HostName] : [],
                WebhookUrl = webhook?.Url,
            };
            var fleet = new Fleet(options, dps, webhook, settings, retries);
            if (!options.Tpm)
            {
                fleet.GroupKeys = await dps.Enrollments.AddSymmetricKeyGroupAsync("fleet", settings, cancellationToken).ConfigureAwait(false);
            }

            return fleet;
        }
        catch
        {
            if (dps is not null)
            {
                await dps.DisposeAsync().ConfigureAwait(false);
            }

            if (webhook is not null)
            {
                await webhook.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>Runs every device, <c>--concurrency</c> at a time.</summary>
    public async Task<FleetResult> RunAsync(CancellationToken cancellationToken)
    {
        var outcomes = new ConcurrentBag<DeviceOutcome>();
        var clock = Stopwatch.StartNew();
        await Parallel.ForEachAsync(
            Enumerable.Range(1, Options.Devices),
            new ParallelOptions { MaxDegreeOfParallelism = Options.Concurrency, CancellationToken = cancellationToken },
            async (index, token) =>
            {
                var outcome = await new SimulatedDevice(this, index).RunAsync(token).ConfigureAwait(false);
                outcomes.Add(outcome);
                if (outcome.Lost)
                {
                    Interlocked.Increment(ref _failed);
                }

                Interlocked.Increment(ref _finished);
            }).ConfigureAwait(false);
        return new FleetResult(Options, [.. outcomes], clock.Elapsed, Retries.Retries, _webhook?.Calls, Requests, await CountDuplicatesAsync([.. outcomes], cancellationToken).ConfigureAwait(false));
    }

    internal void OnAssigned() => Interlocked.Increment(ref _assigned);

    /// <summary>The fleet's DPS requests over HTTPS, answered or not.</summary>
    public RequestCounter Requests { get; }

    /// <summary>Devices that exist more than once: a registration id that ended twice, or a device id known to more than one hub.</summary>
    private async Task<int> CountDuplicatesAsync(IReadOnlyList<DeviceOutcome> outcomes, CancellationToken cancellationToken)
    {
        var duplicates = outcomes.Count - outcomes.Select(o => o.RegistrationId).Distinct(StringComparer.Ordinal).Count();
        foreach (var outcome in outcomes.Where(o => o.DeviceId is not null))
        {
            var hubs = 0;
            foreach (var hub in Dps.Hubs)
            {
                if (await Dps.HubRegistry.FindAsync(hub.HostName, outcome.DeviceId!, cancellationToken).ConfigureAwait(false) is not null)
                {
                    hubs++;
                }
            }

            duplicates += Math.Max(0, hubs - 1);
        }

        return duplicates;
    }

    public async ValueTask DisposeAsync()
    {
        Requests.Dispose();
        await Dps.DisposeAsync().ConfigureAwait(false);
        if (_webhook is not null)
        {
            await _webhook.DisposeAsync().ConfigureAwait(false);
        }
    }
}

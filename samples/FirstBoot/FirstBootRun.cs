using System.Diagnostics;
using System.Security.Cryptography.X509Certificates;
using System.Text;

using Provisioning.Device;
using Provisioning.Device.Hub;
using Provisioning.Emulator;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Samples.FirstBoot;

/// <summary>One first boot: identity, (emulated) DPS, registration or the cache, the hub, one telemetry message.</summary>
internal sealed class FirstBootRun(FirstBootOptions options, TextWriter output, TextWriter? verbose)
{
    /// <summary>The emulator's stand-in for DPS's 2–3 s: short, so the sample ends in seconds, but a real poll.</summary>
    private static readonly TimeSpan EmulatorRetryAfter = TimeSpan.FromSeconds(1);

    /// <summary>How long the hub may take to accept the connection, or to acknowledge and record the message: the hub client
    /// retries without end, and a sample must end.</summary>
    private static readonly TimeSpan HubTimeout = TimeSpan.FromSeconds(60);

    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>Where to dial hubs run elsewhere: <c>--hub-address</c>, then the hubs of <c>--emulator</c>'s file.</summary>
    private readonly Dictionary<string, string> _hubAddresses = new(options.HubAddresses, StringComparer.OrdinalIgnoreCase);

    public FirstBootReport Report { get; } = new()
    {
        Status = "error",
        Attestation = options.AttestationName,
        Transport = options.TransportName,
    };

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        try
        {
            await RunStepsAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Report.ElapsedMs = (long)_clock.Elapsed.TotalMilliseconds;
        }
    }

    private async Task RunStepsAsync(CancellationToken cancellationToken)
    {
        var state = StateFiles.Resolve(options.StateDirectory);
        StateFiles.EnsureDirectory(state);
        output.WriteLine($"First boot: {options.AttestationName} attestation over {options.TransportName.ToUpperInvariant()}, state in {state}");

        var standalone = options.EmulatorFile is { } file ? await StandaloneEmulator.ReadAsync(file, cancellationToken).ConfigureAwait(false) : null;
        await using var dps = options.UsesRemoteDps ? null : await StartEmulatorAsync(state, cancellationToken).ConfigureAwait(false);
        var endpoint = dps is not null ? DpsTransports.EmulatorEndpoint(dps, options.Transport) : standalone?.Endpoint(options.Transport) ?? options.GlobalEndpoint!;
        var idScope = dps?.IdScope ?? standalone?.IdScope ?? options.IdScope!;
        using var extraRoot = (standalone?.CaCertificate ?? options.TrustedCa) is { } caPath ? X509CertificateLoader.LoadCertificateFromFile(caPath) : null;
        if (standalone is not null)
        {
            foreach (var (hub, address) in standalone.HubAddresses)
            {
                _hubAddresses.TryAdd(hub, address);
            }

            output.WriteLine($"Emulator run on its own ({options.EmulatorFile}): DPS at {endpoint} (ID scope {idScope}), hubs {string.Join(", ", standalone.HubAddresses.Select(h => $"{h.Key} ({h.Value})"))}");
        }

        await using var identity = await DeviceIdentity.OpenAsync(options, state, cancellationToken).ConfigureAwait(false);
        Report.RegistrationId = identity.RegistrationId;
        output.WriteLine($"Device identity: {identity.Description}");

        // For a TPM, the two lines tpm_device_provision prints (dps-protocol.md §10): what an operator enrolls in DPS.
        output.WriteLine($"Registration Id: {identity.RegistrationId}");
        if (identity.EndorsementKey is { } ek)
        {
            output.WriteLine($"Endorsement Key: {Convert.ToBase64String(ek)}");
        }

        if (dps is not null)
        {
            var started = _clock.Elapsed;
            await identity.EnrollAsync(dps.Enrollments, cancellationToken).ConfigureAwait(false);
            output.WriteLine($"Enrolled in the emulated DPS ({(identity.EndorsementKey is null ? "individual enrollment" : "individual enrollment by EK")}, hashed over {string.Join(" and ", dps.Hubs.Select(h => h.HostName))}) in {Narrator.Ms(_clock.Elapsed - started)}");
        }
        else if (options.Enroll)
        {
            var started = _clock.Elapsed;
            var connection = standalone!.ServiceConnectionString ?? throw new ArgumentException($"'{options.EmulatorFile}' has no serviceConnectionString to enroll with");
            await ServiceEnrollment.EnrollAsync(connection, extraRoot!, identity.RegistrationId, identity.ServiceAttestation(), cancellationToken).ConfigureAwait(false);
            output.WriteLine($"Enrolled through the emulator's service API (PUT /enrollments/{identity.RegistrationId}, individual enrollment over all its hubs) in {Narrator.Ms(_clock.Elapsed - started)}");
        }

        var narrator = new Narrator(output, options.Attestation, options.Transport, idScope, identity.RegistrationId);
        var cachePath = Path.Combine(state, options.EmulatorFile is not null ? "standalone" : options.UsesRemoteDps ? "azure" : "emulator", options.AttestationName + "-registration.json");

        using var certificateKey = options.Csr is null ? null : await CertificateIssuance.OpenKeyAsync(options, identity, cachePath, cancellationToken).ConfigureAwait(false);
        if (certificateKey is not null)
        {
            output.WriteLine($"Certificate key for the CSR: {CertificateIssuance.Describe(certificateKey)}");
        }

        // One hand-off owns the loop: the cache (or DPS), then the hub; a refused, invalid or unreachable cached identity goes back
        // to DPS, and a freshly assigned hub that fails is tried again with backoff, three rounds at most for a sample.
        var client = await ConnectAsync(endpoint, idScope, identity, narrator, cachePath, extraRoot, dps, certificateKey, cancellationToken).ConfigureAwait(false);
        if (client is null)
        {
            return;
        }

        await using (client.ConfigureAwait(false))
        {
            await SendTelemetryAsync(client, client.Registration!, dps, cancellationToken).ConfigureAwait(false);
        }

        Report.Status = "assigned";
        output.WriteLine($"Done in {Narrator.Ms(_clock.Elapsed)}.");
    }

    private async Task<DpsEmulator> StartEmulatorAsync(string state, CancellationToken cancellationToken)
    {
        var started = _clock.Elapsed;
        var dpsOptions = new DpsEmulatorOptions
        {
            DataDirectory = Path.Combine(state, "emulator"),
            RetryAfter = EmulatorRetryAfter,
        };
        dpsOptions.Hubs.Add(new LinkedHub("hub1.localhost", "westus"));
        dpsOptions.Hubs.Add(new LinkedHub("hub2.localhost", "eastus"));
        StateFiles.EnsureDirectory(dpsOptions.DataDirectory);
        var dps = await DpsEmulator.StartAsync(dpsOptions, cancellationToken).ConfigureAwait(false);
        output.WriteLine($"Emulated DPS at {dps.GlobalEndpoint} (ID scope {dps.IdScope}), hubs {string.Join(", ", dps.HubAddresses.Select(h => $"{h.Key} ({h.Value})"))}; started in {Narrator.Ms(_clock.Elapsed - started)}");
        return dps;
    }

    /// <returns>The connected client, or null when DPS answered failed or disabled (the report says so).</returns>
    private async Task<DeviceClient?> ConnectAsync(string endpoint, string idScope, DeviceIdentity identity, Narrator narrator, string cachePath,
        X509Certificate2? extraRoot, DpsEmulator? dps, CertificateSigningKey? certificateKey, CancellationToken cancellationToken)
    {
        using var observer = new RegistrationObserver(narrator.OnEvent, _clock, verbose);
        var clientOptions = new ProvisioningClientOptions
        {
            LoggerFactory = observer,
            RegistrationCache = new FileRegistrationCache(cachePath),
        };
        if (dps is not null)
        {
            clientOptions.TrustEmulator(dps);
        }

        if (extraRoot is not null)
        {
            clientOptions.TrustedRootCertificates.Add(extraRoot);
        }

        var dialled = DpsTransports.Apply(clientOptions, options.Transport, endpoint);
        using var provisioning = new ProvisioningDeviceClient(dialled, idScope, identity.Attestation, clientOptions);
        var connector = new DeviceConnector(provisioning, new DeviceConnectorOptions
        {
            HubOptions = HubOptions(dps, extraRoot),
            Request = new ProvisioningRegistrationRequest { JsonPayload = options.Payload, BypassCache = options.Reprovision, CertificateSigningKey = certificateKey },
            HubUnreachableTimeout = HubTimeout,
            MaxAttempts = 3,
        });

        output.WriteLine(options.Reprovision ? $"Registering with DPS at {endpoint} (the cache is ignored):" : $"Registration: the cache first, else DPS at {endpoint}:");
        var roundStarted = _clock.Elapsed;
        var connectStarted = _clock.Elapsed;
        DeviceRegistrationResult? last = null;
        connector.Registered += (_, result) =>
        {
            last = result;
            OnRegistered(result, narrator, cachePath, _clock.Elapsed - roundStarted);
            connectStarted = _clock.Elapsed;
        };
        connector.Reprovisioning += (_, e) =>
        {
            narrator.Flush();
            var refusal = e.Error is HubException { Refusal: { } r } ? $"CONNACK {r.ConnectCode}: {e.Error.Message}" : e.Error.Message;
            var source = e.Registration.IsFromCache ? "cached identity" : "identity DPS just assigned";
            output.WriteLine(e.Reason switch
            {
                ReprovisioningReason.HubRefused => $"The hub refused the {source} ({refusal}): back to DPS{After(e.Delay)}.",
                ReprovisioningReason.HubUnreachable => $"The hub of the {source} is unreachable ({refusal}): back to DPS{After(e.Delay)}.",
                _ => $"The {source} is invalid ({refusal}): back to DPS{After(e.Delay)}.",
            });
            output.WriteLine($"Registering with DPS at {endpoint} (the cache is ignored):");
            roundStarted = _clock.Elapsed + e.Delay;
        };

        DeviceClient client;
        try
        {
            client = await connector.ConnectAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ProvisioningException) when (last is { Status: not ProvisioningRegistrationStatus.Assigned } refused)
        {
            Report.Status = refused.Status.ToString().ToLowerInvariant();
            Report.Error = refused.ErrorCode is { } code ? $"DPS answered {Report.Status}: {code} {refused.ErrorMessage}" : $"DPS answered {Report.Status}";
            output.WriteLine($"  {Report.Error}");
            return null;
        }
        finally
        {
            narrator.Flush();
        }

        var credential = client.Registration is { CertificateSigningKey: { } key, IssuedCertificateChain.Count: > 0 }
            ? $"issued certificate, {CertificateIssuance.Describe(key)}"
            : identity.HubCredentialDescription;
        output.WriteLine($"Connected to {client.HubHostName} as {client.DeviceId} over MQTT ({credential}) in {Narrator.Ms(_clock.Elapsed - connectStarted)}");
        return client;

        static string After(TimeSpan delay) => delay > TimeSpan.Zero ? $" in {Narrator.Ms(delay)}" : string.Empty;
    }

    private void OnRegistered(DeviceRegistrationResult result, Narrator narrator, string cachePath, TimeSpan took)
    {
        narrator.Flush();
        Report.Source = result.IsFromCache ? "cache" : "dps";
        Report.AssignedHub = result.AssignedHub;
        Report.DeviceId = result.DeviceId;
        if (result.CertificateSigningKey is not null && result.IssuedCertificateChain.Count > 0)
        {
            Report.IssuedCertificate = CertificateIssuance.Report(result);
            narrator.Step($"issued certificate {Report.IssuedCertificate.Subject}, SHA-256 {Report.IssuedCertificate.Thumbprint}, valid until {Report.IssuedCertificate.NotAfter:u} ({(result.IsFromCache ? "from the cache" : "from DPS")}, chain of {result.IssuedCertificateChain.Count} checked against the key)");
        }

        if (result.IsFromCache)
        {
            narrator.Step($"Booting from the registration cache ({cachePath}): DPS was not contacted", took);
            narrator.Step($"cached assignment: hub {result.AssignedHub}, device {result.DeviceId}, registered {result.LastUpdatedDateTimeUtc:u}");
            return;
        }

        if (result.Status != ProvisioningRegistrationStatus.Assigned)
        {
            return;
        }

        narrator.Step($"Assigned: hub {result.AssignedHub}, device {result.DeviceId}, operation {result.OperationId}");
        if (options.Attestation == AttestationKind.Tpm)
        {
            narrator.Step("the hub key that came with 'assigned' was activated in the TPM too; it signs the hub's SAS tokens");
        }

        if (result.JsonPayload is { } payload)
        {
            narrator.Step($"payload returned by allocation: {payload}");
        }

        output.WriteLine($"Time to assigned: {Narrator.Ms(took)}.");
        Report.TimeToAssignedMs = (long)took.TotalMilliseconds;
    }

    private DeviceClientOptions HubOptions(DpsEmulator? dps, X509Certificate2? extraRoot)
    {
        var hubOptions = new DeviceClientOptions { LoggerFactory = verbose is null ? null : new TextLoggerFactory(verbose) };
        if (dps is not null)
        {
            hubOptions.UseEmulatorHubs(dps);
        }

        if (extraRoot is not null)
        {
            hubOptions.TrustedRootCertificates.Add(extraRoot);
        }

        foreach (var (hub, address) in _hubAddresses)
        {
            hubOptions.HubAddresses[hub] = address;
        }

        return hubOptions;
    }

    private async Task SendTelemetryAsync(DeviceClient client, DeviceRegistrationResult result, DpsEmulator? dps, CancellationToken cancellationToken)
    {
        var body = options.Message ?? $$"""{"firstBoot":true,"temperature":21.5,"registrationId":"{{result.RegistrationId}}"}""";
        var message = new HubMessage(Encoding.UTF8.GetBytes(body))
        {
            MessageId = Guid.NewGuid().ToString("N"),
            ContentType = "application/json",
            ContentEncoding = "utf-8",
        };
        var started = _clock.Elapsed;
        await WithHubTimeoutAsync(ct => client.SendEventAsync(message, ct), $"{result.AssignedHub} did not acknowledge the message", cancellationToken).ConfigureAwait(false);
        output.WriteLine($"Sent telemetry {body}: acknowledged by the hub (PUBACK) in {Narrator.Ms(_clock.Elapsed - started)}");
        if (dps is not null)
        {
            // The emulated hub's own record: proof the message arrived, not only that it was acknowledged.
            var hub = dps.GetHub(result.AssignedHub!);
            await WithHubTimeoutAsync(
                async ct =>
                {
                    HubTelemetryMessage received;
                    do
                    {
                        received = await hub.ReadTelemetryAsync(result.DeviceId!, ct).ConfigureAwait(false);
                    }
                    while (received.MessageId != message.MessageId);
                    output.WriteLine($"The hub {hub.HubHostName} received it from {received.DeviceId} at {received.EnqueuedAt:HH:mm:ss.fff}: {Encoding.UTF8.GetString(received.Body.Span)}");
                },
                $"{hub.HubHostName} has no record of the message",
                cancellationToken).ConfigureAwait(false);
            Report.TelemetryEvidence = "hub-record";
        }
        else
        {
            // The hub runs in another process (or in Azure): its record cannot be read from here, so the PUBACK is the proof.
            Report.TelemetryEvidence = "puback";
            output.WriteLine("telemetryDelivered here means acknowledged by the hub (PUBACK): the hub runs in another process, whose record of the message this run cannot read.");
        }

        Report.TelemetryDelivered = true;
    }

    private static async Task WithHubTimeoutAsync(Func<CancellationToken, Task> operation, string failure, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(HubTimeout);
        try
        {
            await operation(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{failure} within {HubTimeout.TotalSeconds:0} s.", ex);
        }
    }
}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using Provisioning.Device.Tpm;
using Provisioning.Emulator.Hubs;
using Provisioning.Testing;

namespace Provisioning.Device.Hub.Tests.FirstBoot;

/// <summary>Certificate renewal with a TPM-resident key, end to end (issue 16): swtpm, the hub reached over TLS with the
/// key through OpenSSL's tpm2 provider, the emulated hub's credentials API, a certificate living seconds, telemetry sent all
/// along. Our TPM stack (the successor's creation, the CSR's TPM2_Sign, the eviction) and the provider (each handshake's
/// signature) take turns on swtpm's one connection (<see cref="TpmTransportOptions.ReleaseConnectionBetweenCommands"/>).</summary>
[Trait("Category", "Interop")]
[Collection(TpmProviderTurns.Name)]
public sealed class TpmKeyRenewalTlsTests
{
    private const string ProviderModule = "/usr/lib/x86_64-linux-gnu/ossl-modules/tpm2.so";
    private const uint Handle = 0x8100_0140;
    private const uint Alternate = 0x8100_0141;
    private const int RenewedEvent = 20; // HubClientLog.CertificateRenewed
    private const int FailedEvent = 21; // HubClientLog.CertificateRenewalFailed

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Swtpm_RenewalWithNewTpmKeyThenWithTheSameKey_ReconnectsOverTlsSignedInTheTpm_LosesNoAcknowledgedMessage_AndEvictsTheOldKey()
    {
        RequireProvider();
        await using var instance = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var bed = await FirstBootBed.StartAsync(configure: o => o.IssuedCertificateValidity = TimeSpan.FromSeconds(60));
        var folder = Directory.CreateTempSubdirectory("tpm-renew-");
        try
        {
            var cachePath = Path.Combine(folder.FullName, "registration.json");
            var log = new RecordingLoggerFactory();
            var renewals = new List<(IReadOnlyList<string> Chain, CertificateSigningKey Key, byte[]? AtAlternate, byte[]? AtHandle)>();
            DeviceClientOptions? hubOptions = null;
            TpmIdentity? tpmForCallback = null;
            await using (var tpm = OpenTpm(instance))
            {
                tpmForCallback = tpm;
                using var key = await TpmCertificateKey.OpenAsync(tpm, handle: Handle, alternateHandle: Alternate, transportSpec: instance.TransportSpec, cancellationToken: Ct);
                var (attestation, provisioning) = await ProvisioningAsync(bed, "tpm-renew-tls", cachePath);
                using var attestationScope = attestation;
                using var provisioningScope = provisioning;
                hubOptions = bed.HubOptions(o =>
                {
                    o.CertificateRenewalThreshold = 0.85; // lifetime 64 s (4 s backdated): renewal about 5.6 s after issuance
                    o.RenewCertificateWithNewKey = true;
                    o.LoggerFactory = log;
                    o.CertificateRenewed = async (chain, k, ct) =>
                    {
                        // Before the switch: what the TPM holds at both handles, read through the device's own connection
                        // (released between commands, so the provider's signatures and these reads take turns).
                        var atAlternate = await tpmForCallback!.ReadCertificateKeyAsync(Alternate, ct);
                        var atHandle = await tpmForCallback.ReadCertificateKeyAsync(Handle, ct);
                        lock (renewals)
                        {
                            renewals.Add((chain, k, atAlternate, atHandle));
                            // The first renewal takes a new key, the second keeps it; after that no renewal is due in the test.
                            hubOptions!.RenewCertificateWithNewKey = false;
                            if (renewals.Count == 2)
                            {
                                hubOptions.CertificateRenewalThreshold = 0.01;
                            }
                        }
                    };
                });
                var connector = new DeviceConnector(provisioning, new DeviceConnectorOptions
                {
                    Request = new ProvisioningRegistrationRequest { CertificateSigningKey = key },
                    HubOptions = hubOptions,
                });

                await using var client = await ConnectAsync(connector);
                var registration = client.Registration!;
                var deviceId = registration.DeviceId!;
                var hub = bed.Dps.GetHub(registration.AssignedHub!);
                var firstChain = registration.IssuedCertificateChain.ToArray();
                var reconnects = 0;
                client.ConnectionStateChanged += (_, e) =>
                {
                    if (e.State == ConnectionState.Connected) // after a renewal's switch: nothing else drops the connection here
                    {
                        Interlocked.Increment(ref reconnects);
                    }
                };

                // Telemetry all along: before, during and after both swaps; each send returns once the hub acknowledged it.
                using var guard = Guard(180);
                var sent = new List<string>();
                var extra = 0;
                while (extra < 3)
                {
                    await SendAsync(client, sent, log, guard.Token);
                    if (Volatile.Read(ref reconnects) >= 2)
                    {
                        extra++;
                    }
                    else
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(100), guard.Token);
                    }
                }

                await AssertAllArrivedAsync(hub, deviceId, sent, guard.Token);
                Assert.Equal(2, renewals.Count);
                Assert.Equal(0, log.Count(FailedEvent));

                // First renewal: a new key at the alternate handle, the old one still in place until the switch.
                var (chain1, key1, atAlternate1, atHandle1) = renewals[0];
                var successor = Assert.IsType<TpmCertificateKey>(key1);
                Assert.Equal((Alternate, Handle), (successor.Handle, successor.AlternateHandle));
                Assert.Equal(successor.TpmPublic.ToArray(), atAlternate1);
                Assert.Equal(key.TpmPublic.ToArray(), atHandle1);
                Assert.NotEqual(key.TpmPublic.ToArray(), successor.TpmPublic.ToArray());
                using var leaf1 = Leaf(chain1);
                Assert.True(successor.Matches(leaf1));
                Assert.NotEqual(firstChain[0], chain1[0]);

                // Second renewal: the same key, a new certificate; the old handle was evicted after the first switch.
                var (chain2, key2, atAlternate2, atHandle2) = renewals[1];
                Assert.Same(successor, key2);
                Assert.Equal(successor.TpmPublic.ToArray(), atAlternate2);
                Assert.Null(atHandle2);
                using var leaf2 = Leaf(chain2);
                Assert.True(successor.Matches(leaf2));
                Assert.NotEqual(chain1[0], chain2[0]);

                // The hub saw the newest certificate: its registry holds that thumbprint and refuses any other, and the device
                // connected three times (the first certificate, then once after each renewal).
                var device = await bed.HubDeviceAsync(registration);
                Assert.Equal(HubCredentialKind.CertificateAuthority, device.Kind);
                Assert.Equal(leaf2.GetCertHashString(HashAlgorithmName.SHA256), device.Thumbprint);
                Assert.Equal(3, hub.GetConnectionCount(deviceId));
                Assert.Equal(chain2, (await new FileRegistrationCache(cachePath).LoadAsync(Ct))!.IssuedCertificateChain);

                // Through our ReadPublic: the new key at the alternate handle, nothing at the old one.
                Assert.Equal(successor.TpmPublic.ToArray(), await tpm.ReadCertificateKeyAsync(Alternate, Ct));
                Assert.Null(await tpm.ReadCertificateKeyAsync(Handle, Ct));
                await client.DisposeAsync();
                successor.Dispose();
            }

            // Read independently with tpm2-tools (our connection is closed, and so is the provider's).
            var handles = (await instance.ToolAsync("tpm2_getcap", ["handles-persistent"], cancellationToken: Ct)).EnsureSuccess("tpm2_getcap handles-persistent");
            Assert.Contains($"0x{Alternate:X8}", handles.StandardOutput, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain($"0x{Handle:X8}", handles.StandardOutput, StringComparison.OrdinalIgnoreCase);
            await AssertNothingLoadedAsync(instance);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Swtpm_HubAnswersGarbageThenAnError_DeviceKeepsTheOldTpmKeyAndCertificate_OverTls_AndTheSuccessorIsEvicted()
    {
        RequireProvider();
        await using var instance = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var bed = await FirstBootBed.StartAsync(configure: o => o.IssuedCertificateValidity = TimeSpan.FromSeconds(60));
        const string RegistrationId = "tpm-renew-fail";
        var folder = Directory.CreateTempSubdirectory("tpm-renew-fail-");
        try
        {
            var cachePath = Path.Combine(folder.FullName, "registration.json");
            var log = new RecordingLoggerFactory();
            await using (var tpm = OpenTpm(instance))
            {
                using var key = await TpmCertificateKey.OpenAsync(tpm, handle: Handle, alternateHandle: Alternate, transportSpec: instance.TransportSpec, cancellationToken: Ct);
                var (attestation, provisioning) = await ProvisioningAsync(bed, RegistrationId, cachePath);
                using var attestationScope = attestation;
                using var provisioningScope = provisioning;
                var connector = new DeviceConnector(provisioning, new DeviceConnectorOptions
                {
                    Request = new ProvisioningRegistrationRequest { CertificateSigningKey = key },
                    HubOptions = bed.HubOptions(o =>
                    {
                        o.CertificateRenewalThreshold = 0.85;
                        o.RenewCertificateWithNewKey = true;
                        o.LoggerFactory = log;
                    }),
                });

                // A hostile hub (set before the device connects, so no renewal precedes it): a 200 whose certificate is not
                // one, then a refusal whose retryAfter outlasts the test.
                var hub = Assert.Single(bed.Dps.IotHubs);
                hub.AnswerCertificateRequestsWithGarbage(RegistrationId);
                hub.FailCertificateRequests(RegistrationId, 500, retryAfterSeconds: 3600, count: 1);
                await using var client = await ConnectAsync(connector);
                var registration = client.Registration!;
                var deviceId = registration.DeviceId!;
                Assert.Equal(RegistrationId, deviceId);
                Assert.Same(hub, bed.Dps.GetHub(registration.AssignedHub!));
                var firstChain = registration.IssuedCertificateChain.ToArray();
                using var guard = Guard(120);
                var sent = new List<string>();
                while (log.Count(FailedEvent) < 2)
                {
                    await SendAsync(client, sent, log, guard.Token);
                    await Task.Delay(TimeSpan.FromMilliseconds(100), guard.Token);
                }

                Assert.Equal(0, log.Count(RenewedEvent));
                Assert.Contains(log.Messages(FailedEvent), m => m.Contains("refused", StringComparison.Ordinal)); // the garbage chain
                Assert.Contains(log.Messages(FailedEvent), m => m.Contains("500", StringComparison.Ordinal));

                // Each failed attempt created a successor at the alternate handle and evicted it again; the key in use stays.
                Assert.Null(await tpm.ReadCertificateKeyAsync(Alternate, Ct));
                Assert.Equal(key.TpmPublic.ToArray(), await tpm.ReadCertificateKeyAsync(Handle, Ct));
                Assert.Equal(1, hub.GetConnectionCount(deviceId)); // the old certificate's connection stayed up

                // The device keeps working on the old key and certificate: telemetry, and a new TLS handshake signed in the
                // TPM with the old key after the hub drops the connection.
                var reconnected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                client.ConnectionStateChanged += (_, e) =>
                {
                    if (e.State == ConnectionState.Connected)
                    {
                        reconnected.TrySetResult();
                    }
                };
                await hub.DisconnectDeviceAsync(deviceId, guard.Token);
                await reconnected.Task.WaitAsync(guard.Token);
                for (var i = 0; i < 3; i++)
                {
                    await SendAsync(client, sent, log, guard.Token);
                }

                await AssertAllArrivedAsync(hub, deviceId, sent, guard.Token);
                Assert.Equal(2, hub.GetConnectionCount(deviceId));

                // The reconnection did not bring the next attempt forward: the hub asked for 3600 s.
                Assert.Equal((2, 0), (log.Count(FailedEvent), log.Count(RenewedEvent)));
                Assert.Null(await tpm.ReadCertificateKeyAsync(Alternate, Ct));
                var device = await bed.HubDeviceAsync(registration);
                using var firstLeaf = Leaf(firstChain);
                Assert.Equal(firstLeaf.GetCertHashString(HashAlgorithmName.SHA256), device.Thumbprint);
                Assert.Equal(firstChain, (await new FileRegistrationCache(cachePath).LoadAsync(Ct))!.IssuedCertificateChain);
                await client.DisposeAsync();
            }

            var handles = (await instance.ToolAsync("tpm2_getcap", ["handles-persistent"], cancellationToken: Ct)).EnsureSuccess("tpm2_getcap handles-persistent");
            Assert.Contains($"0x{Handle:X8}", handles.StandardOutput, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain($"0x{Alternate:X8}", handles.StandardOutput, StringComparison.OrdinalIgnoreCase);
            await AssertNothingLoadedAsync(instance);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static void RequireProvider()
    {
        Swtpm.RequireOrSkip(tools: true);
        if (!OperatingSystem.IsLinux() || !File.Exists(ProviderModule))
        {
            var reason = "OpenSSL's tpm2 provider is not installed (apt-get install tpm2-openssl); this test needs it for TLS with a TPM key.";
            if (Swtpm.IsRequired)
            {
                Assert.Fail(reason);
            }

            Assert.Skip(reason);
        }
    }

    /// <summary>The device's TPM: swtpm serves one connection at a time, so ours is released between commands for the provider.</summary>
    private static TpmIdentity OpenTpm(SwtpmInstance instance) =>
        TpmIdentity.Open(instance.TransportSpec, new TpmIdentityOptions { Transport = new TpmTransportOptions { ReleaseConnectionBetweenCommands = true } });

    private static async Task<(SymmetricKeyAttestation, ProvisioningDeviceClient)> ProvisioningAsync(FirstBootBed bed, string registrationId, string cachePath)
    {
        var enrollment = await bed.Dps.Enrollments.AddSymmetricKeyAsync(registrationId, cancellationToken: Ct);
        var attestation = new SymmetricKeyAttestation(registrationId, enrollment.PrimaryKey);
        var options = new ProvisioningClientOptions { RegistrationCache = new FileRegistrationCache(cachePath) };
        options.TrustedRootCertificates.Add(bed.Dps.CertificateAuthority.Certificate);
        return (attestation, new ProvisioningDeviceClient(bed.Dps.GlobalEndpoint.ToString(), bed.Dps.IdScope, attestation, options));
    }

    private static async Task<DeviceClient> ConnectAsync(DeviceConnector connector)
    {
        using var guard = Guard(60);
        return await connector.ConnectAsync(guard.Token);
    }

    /// <summary>A hang guard, not a timed assertion.</summary>
    private static CancellationTokenSource Guard(int seconds)
    {
        var guard = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        guard.CancelAfter(TimeSpan.FromSeconds(seconds));
        return guard;
    }

    private static async Task SendAsync(DeviceClient client, List<string> sent, RecordingLoggerFactory log, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid().ToString("N");
        try
        {
            await client.SendEventAsync(new HubMessage(Encoding.UTF8.GetBytes($"{{\"n\":{sent.Count}}}")) { MessageId = id }, cancellationToken); // acknowledged
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            Assert.Fail($"A send did not complete; the client's log: {log.Describe()}");
        }

        sent.Add(id);
    }

    private static async Task AssertAllArrivedAsync(EmulatedIotHub hub, string deviceId, List<string> sent, CancellationToken cancellationToken)
    {
        var received = new HashSet<string>(StringComparer.Ordinal);
        while (!sent.All(received.Contains))
        {
            received.Add((await hub.ReadTelemetryAsync(deviceId, cancellationToken)).MessageId!);
        }
    }

    private static X509Certificate2 Leaf(IReadOnlyList<string> chain) => X509CertificateLoader.LoadCertificate(Convert.FromBase64String(chain[0]));

    private static async Task AssertNothingLoadedAsync(SwtpmInstance instance)
    {
        foreach (var kind in new[] { "handles-transient", "handles-loaded-session" })
        {
            var listed = (await instance.ToolAsync("tpm2_getcap", [kind], cancellationToken: Ct)).EnsureSuccess("tpm2_getcap " + kind);
            var detail = "";
            if (kind == "handles-transient" && listed.StandardOutput.Split('-', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) is [var first, ..])
            {
                // What was left, to tell our key's creation from the provider's objects.
                var read = await instance.ToolAsync("tpm2_readpublic", ["-c", first], cancellationToken: Ct);
                detail = read.StandardOutput + read.StandardError;
            }

            Assert.True(string.IsNullOrWhiteSpace(listed.StandardOutput), $"{kind} after the renewals: {listed.StandardOutput} {detail}");
        }
    }

    /// <summary>Records the hub client's log events (id and text) so the test can wait on them and show them on failure.</summary>
    private sealed class RecordingLoggerFactory : ILoggerFactory, ILogger
    {
        private readonly Lock _lock = new();
        private readonly List<(int Id, string Text)> _events = [];

        public int Count(int eventId)
        {
            lock (_lock)
            {
                return _events.Count(e => e.Id == eventId);
            }
        }

        public string[] Messages(int eventId)
        {
            lock (_lock)
            {
                return [.. _events.Where(e => e.Id == eventId).Select(e => e.Text)];
            }
        }

        public string Describe()
        {
            lock (_lock)
            {
                return string.Join(Environment.NewLine, _events.Select(e => $"[{e.Id}] {e.Text}"));
            }
        }

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lock)
            {
                _events.Add((eventId.Id, formatter(state, exception) + (exception is null ? string.Empty : " — " + exception.Message)));
            }
        }

        public void Dispose()
        {
        }
    }
}

/// <summary>The tests that open keys through OpenSSL's tpm2 provider: the provider's TCTI is one process-wide variable
/// (<c>TPM2OPENSSL_TCTI</c>), and each test has its own swtpm, so they take turns.</summary>
[CollectionDefinition(Name)]
public sealed class TpmProviderTurns
{
    public const string Name = "tpm2-openssl provider";
}

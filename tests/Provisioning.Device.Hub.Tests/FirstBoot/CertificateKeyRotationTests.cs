using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Logging;
using Provisioning.Emulator;

namespace Provisioning.Device.Hub.Tests.FirstBoot;

/// <summary>Renewal with a new key is crash-safe (issue 16): the successor is written beside the current key file, the
/// current key and certificate stay in use until the hub's chain is received, checked and stored in the registration cache,
/// and only then is the replaced key file deleted. Real TLS, the emulated hub's credentials API, the device connector, a file
/// cache; a hostile hub (garbage certificate, errors) in between.</summary>
public sealed class CertificateKeyRotationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RenewalWithNewKey_HubAnswersGarbageThenErrors_KeepsTheOldKeyAndCertificate_ThenSucceeds_AndRetiresTheOldKeyFile()
    {
        await using var bed = await FirstBootBed.StartAsync(configure: o => o.IssuedCertificateValidity = TimeSpan.FromSeconds(40));
        const string registrationId = "rotate-sw-key";
        var keys = await bed.Dps.Enrollments.AddSymmetricKeyAsync(registrationId, cancellationToken: Ct);
        using var attestation = new SymmetricKeyAttestation(registrationId, keys.PrimaryKey);
        var folder = Directory.CreateTempSubdirectory("rotate-");
        try
        {
            var keyPath = Path.Combine(folder.FullName, "certificate-key.p8");
            var cachePath = Path.Combine(folder.FullName, "registration.json");
            using var key = await SoftwareCertificateKey.LoadOrCreateAsync(keyPath, cancellationToken: Ct);
            Assert.Equal(keyPath + SoftwareCertificateKey.AlternateSuffix, key.AlternatePath);
            var originalKeyFile = await File.ReadAllBytesAsync(keyPath, Ct);

            var failures = new CountingLoggerFactory(eventId: 21); // HubClientLog.CertificateRenewalFailed
            var renewed = new TaskCompletionSource<(IReadOnlyList<string> Chain, CertificateSigningKey Key)>(TaskCreationOptions.RunContinuationsAsynchronously);
            (bool KeyFileKept, IReadOnlyList<string>? CachedChain, int Failures, int Connections, bool SuccessorWritten)? beforeSwitch = null;
            DpsEmulator dps = bed.Dps;
            string? deviceId = null;
            using var provisioning = Provisioning(bed, attestation, cachePath);
            var connector = new DeviceConnector(provisioning, new DeviceConnectorOptions
            {
                Request = new ProvisioningRegistrationRequest { CertificateSigningKey = key },
                HubOptions = bed.HubOptions(o =>
                {
                    o.CertificateRenewalThreshold = 0.8; // lifetime 44 s (4 s backdated): renewal about 5 s after issuance
                    o.RenewCertificateWithNewKey = true;
                    o.LoggerFactory = failures;
                    o.CertificateRenewed = async (chain, k, ct) =>
                    {
                        // Called once the chain is received and checked, before anything is stored or switched: the state every
                        // failed attempt left behind.
                        beforeSwitch = (
                            (await File.ReadAllBytesAsync(keyPath, ct)).AsSpan().SequenceEqual(originalKeyFile),
                            (await new FileRegistrationCache(cachePath).LoadAsync(ct))?.IssuedCertificateChain,
                            failures.Count,
                            dps.IotHubs[0].GetConnectionCount(deviceId!),
                            File.Exists(key.AlternatePath));
                        renewed.TrySetResult((chain, k));
                    };
                }),
            });
            var client = await connector.ConnectAsync(Ct);
            var registration = client.Registration!;
            deviceId = registration.DeviceId!;
            var hub = bed.Dps.GetHub(registration.AssignedHub!);
            var firstChain = registration.IssuedCertificateChain.ToArray();
            var reconnectedAfterRenewal = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var sawRenewal = false;
            client.ConnectionStateChanged += (_, e) =>
            {
                sawRenewal |= e.Reason == ConnectionChangeReason.TokenRenewal;
                if (sawRenewal && e.State == ConnectionState.Connected)
                {
                    reconnectedAfterRenewal.TrySetResult();
                }
            };

            // A hostile hub: a 200 whose certificate is not one, then two refusals. Each attempt writes a successor key file
            // and must delete it again, leaving the current key file, the certificate in use and the cache untouched.
            hub.AnswerCertificateRequestsWithGarbage(deviceId);
            hub.FailCertificateRequests(deviceId, 500, retryAfterSeconds: 1, count: 2);
            using var guard = CancellationTokenSource.CreateLinkedTokenSource(Ct);
            guard.CancelAfter(TimeSpan.FromSeconds(90)); // a hang guard, not a timed assertion
            var sent = new List<string>();
            var extra = 0;
            while (extra < 3)
            {
                await SendAsync(client, sent, guard.Token); // acknowledged, before, during and after the swap
                if (reconnectedAfterRenewal.Task.IsCompleted)
                {
                    extra++;
                }
                else
                {
                    await Task.Delay(TimeSpan.FromMilliseconds(100), guard.Token);
                }
            }

            var (newChain, newKey) = await renewed.Task.WaitAsync(guard.Token);
            var received = new HashSet<string>(StringComparer.Ordinal);
            while (!sent.All(received.Contains))
            {
                received.Add((await hub.ReadTelemetryAsync(deviceId, guard.Token)).MessageId!);
            }

            var state = beforeSwitch!.Value;
            Assert.True(state.KeyFileKept);
            Assert.Equal(firstChain, state.CachedChain);
            Assert.Equal(3, state.Failures);
            Assert.Equal(1, state.Connections); // the old certificate's connection stayed up through the failures
            Assert.True(state.SuccessorWritten);

            using var newLeaf = X509CertificateLoader.LoadCertificate(Convert.FromBase64String(newChain[0]));
            Assert.True(newKey.Matches(newLeaf));
            Assert.False(key.Matches(newLeaf));
            Assert.Equal(key.AlternatePath, ((SoftwareCertificateKey)newKey).Path);
            Assert.False(File.Exists(keyPath)); // retired
            Assert.True(File.Exists(key.AlternatePath));
            Assert.Equal(newChain, (await new FileRegistrationCache(cachePath).LoadAsync(Ct))!.IssuedCertificateChain);
            await client.DisposeAsync();

            // The next boot finds the moved key and the cached certificate, and the hub accepts them.
            using var reopened = await SoftwareCertificateKey.LoadOrCreateAsync(keyPath, cancellationToken: Ct);
            Assert.Equal(key.AlternatePath, reopened.Path);
            Assert.Equal(keyPath, reopened.AlternatePath);
            Assert.False(File.Exists(keyPath));
            using var again = Provisioning(bed, attestation, cachePath);
            var second = await again.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = reopened }, Ct);
            Assert.True(second.IsFromCache);
            Assert.Equal(newChain, second.IssuedCertificateChain);
            await using var rebooted = DeviceClient.Create(second, attestation, bed.HubOptions());
            await rebooted.OpenAsync(Ct);
            await bed.SendAndReceiveAsync(rebooted);
            newKey.Dispose();
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Boot_AfterARenewalStoredItsCertificateButDidNotRetireTheOldKey_UsesTheKeyAtTheAlternatePath()
    {
        // The crash window between the cache switch and the retirement: both key files exist, the cache holds the new chain.
        await using var bed = await FirstBootBed.StartAsync();
        const string registrationId = "rotate-crash";
        var keys = await bed.Dps.Enrollments.AddSymmetricKeyAsync(registrationId, cancellationToken: Ct);
        using var attestation = new SymmetricKeyAttestation(registrationId, keys.PrimaryKey);
        var folder = Directory.CreateTempSubdirectory("rotate-");
        try
        {
            var keyPath = Path.Combine(folder.FullName, "certificate-key.p8");
            var cachePath = Path.Combine(folder.FullName, "registration.json");
            using var key = await SoftwareCertificateKey.LoadOrCreateAsync(keyPath, cancellationToken: Ct);
            using var provisioning = Provisioning(bed, attestation, cachePath);
            var first = await provisioning.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = key }, Ct);
            using var successor = await key.CreateSuccessorAsync(Ct);
            using (var fresh = Provisioning(bed, attestation, cachePath: null))
            {
                // A certificate for the successor, as the hub's renewal would give it, stored as the renewal stores it.
                var issued = await fresh.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = successor }, Ct);
                Assert.True(await provisioning.UpdateCachedCertificateAsync(issued.IssuedCertificateChain, successor, Ct));
            }

            Assert.True(File.Exists(keyPath) && File.Exists(successor.Path)); // "crash": the old key was not retired

            using var reopened = await SoftwareCertificateKey.LoadOrCreateAsync(keyPath, cancellationToken: Ct);
            Assert.Equal(keyPath, reopened.Path);
            using var again = Provisioning(bed, attestation, cachePath);
            var booted = await again.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = reopened }, Ct);

            Assert.True(booted.IsFromCache);
            Assert.NotEqual(first.IssuedCertificateChain[0], booted.IssuedCertificateChain[0]);
            var bootedKey = Assert.IsType<SoftwareCertificateKey>(booted.CertificateSigningKey);
            Assert.Equal(successor.Path, bootedKey.Path);
            Assert.Equal(successor.SubjectPublicKeyInfo.ToArray(), bootedKey.SubjectPublicKeyInfo.ToArray());
            await using var client = DeviceClient.Create(booted, attestation, bed.HubOptions());
            await client.OpenAsync(Ct);
            await bed.SendAndReceiveAsync(client);
            bootedKey.Dispose();
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task UpdateCachedCertificate_RefusesAChainThatIsNotTheKeys_AndKeepsTheEntry()
    {
        await using var bed = await FirstBootBed.StartAsync();
        const string registrationId = "rotate-refuse";
        var keys = await bed.Dps.Enrollments.AddSymmetricKeyAsync(registrationId, cancellationToken: Ct);
        using var attestation = new SymmetricKeyAttestation(registrationId, keys.PrimaryKey);
        var folder = Directory.CreateTempSubdirectory("rotate-");
        try
        {
            var cachePath = Path.Combine(folder.FullName, "registration.json");
            using var key = SoftwareCertificateKey.Create();
            using var other = SoftwareCertificateKey.Create();
            using var provisioning = Provisioning(bed, attestation, cachePath);
            var first = await provisioning.RegisterAsync(new ProvisioningRegistrationRequest { CertificateSigningKey = key }, Ct);

            await Assert.ThrowsAsync<ProvisioningException>(async () => await provisioning.UpdateCachedCertificateAsync(first.IssuedCertificateChain, other, Ct));

            Assert.Equal(first.IssuedCertificateChain, (await new FileRegistrationCache(cachePath).LoadAsync(Ct))!.IssuedCertificateChain);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static ProvisioningDeviceClient Provisioning(FirstBootBed bed, ProvisioningAttestation attestation, string? cachePath)
    {
        var options = new ProvisioningClientOptions { RegistrationCache = cachePath is null ? null : new FileRegistrationCache(cachePath) };
        options.TrustedRootCertificates.Add(bed.Dps.CertificateAuthority.Certificate);
        return new ProvisioningDeviceClient(bed.Dps.GlobalEndpoint.ToString(), bed.Dps.IdScope, attestation, options);
    }

    private static async Task SendAsync(DeviceClient client, List<string> sent, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid().ToString("N");
        await client.SendEventAsync(new HubMessage(Encoding.UTF8.GetBytes($"{{\"n\":{sent.Count}}}")) { MessageId = id }, cancellationToken); // acknowledged
        sent.Add(id);
    }

    /// <summary>Counts log events of one id and lets a test wait for a number of them.</summary>
    private sealed class CountingLoggerFactory(int eventId) : ILoggerFactory, ILogger
    {
        private readonly Lock _lock = new();
        private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];
        private int _count;

        public int Count
        {
            get
            {
                lock (_lock)
                {
                    return _count;
                }
            }
        }

        public Task WaitForAsync(int count, CancellationToken cancellationToken)
        {
            lock (_lock)
            {
                if (_count >= count)
                {
                    return Task.CompletedTask;
                }

                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((count, done));
                return done.Task.WaitAsync(cancellationToken);
            }
        }

        public ILogger CreateLogger(string categoryName) => this;

        public void AddProvider(ILoggerProvider provider)
        {
        }

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId id, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (id.Id != eventId)
            {
                return;
            }

            lock (_lock)
            {
                _count++;
                foreach (var waiter in _waiters.Where(w => w.Count <= _count).ToArray())
                {
                    waiter.Done.TrySetResult();
                    _waiters.Remove(waiter);
                }
            }
        }

        public void Dispose()
        {
        }
    }
}

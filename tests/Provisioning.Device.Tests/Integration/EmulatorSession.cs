using Provisioning.Device.Transport.Http;
using Provisioning.Emulator;

namespace Provisioning.Device.Tests.Integration;

/// <summary>
/// The in-process emulator on a loopback port with real TLS, and clients that trust its CA through
/// <see cref="ProvisioningClientOptions.TrustedRootCertificates"/> (validation stays on) and count their HTTP exchanges.
/// </summary>
internal sealed class EmulatorSession : IAsyncDisposable
{
    private EmulatorSession(DpsEmulator dps) => Dps = dps;

    public DpsEmulator Dps { get; }

    /// <summary>Starts an in-memory emulator answering <c>Retry-After: 0</c>; <paramref name="configure"/> adjusts the options.</summary>
    public static async Task<EmulatorSession> StartAsync(Action<DpsEmulatorOptions>? configure = null)
    {
        var options = new DpsEmulatorOptions { RetryAfter = TimeSpan.Zero };
        configure?.Invoke(options);
        return new EmulatorSession(await DpsEmulator.StartAsync(options, TestContext.Current.CancellationToken));
    }

    /// <summary>Options trusting the emulator's CA, with fast backoff so retried faults cost milliseconds.</summary>
    public ProvisioningClientOptions CreateOptions()
    {
        var options = new ProvisioningClientOptions
        {
            RetryPolicy = new ProvisioningRetryPolicy { InitialDelay = TimeSpan.FromMilliseconds(10), MaxDelay = TimeSpan.FromMilliseconds(50) },
        };
        options.TrustedRootCertificates.Add(Dps.CertificateAuthority.Certificate);
        return options;
    }

    /// <summary>A client over the production handler, wrapped so every exchange it sends is counted.</summary>
    public ProvisioningDeviceClient CreateClient(ProvisioningAttestation attestation, out RequestCounter counter, ProvisioningClientOptions? options = null)
    {
        options ??= CreateOptions();
        counter = new RequestCounter(ProvisioningHttpHandler.Create(attestation, options));
        return new ProvisioningDeviceClient(Dps.GlobalEndpoint.ToString(), Dps.IdScope, attestation, options, counter);
    }

    public ValueTask DisposeAsync() => Dps.DisposeAsync();
}

/// <summary>Counts the requests the client sends, by method, and can run an action when one is sent.</summary>
internal sealed class RequestCounter(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private int _puts;
    private int _gets;

    public int Puts => Volatile.Read(ref _puts);

    public int Gets => Volatile.Read(ref _gets);

    public int Total => Puts + Gets;

    /// <summary>Called with each request before it is sent.</summary>
    public Action<HttpRequestMessage>? OnSending { get; set; }

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.Method == HttpMethod.Put)
        {
            Interlocked.Increment(ref _puts);
        }
        else
        {
            Interlocked.Increment(ref _gets);
        }

        OnSending?.Invoke(request);
        return base.SendAsync(request, cancellationToken);
    }
}

using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using Provisioning.Device.Diagnostics;
using Provisioning.Device.Serialization;
using Provisioning.Device.Transport;
using Provisioning.Device.Transport.Amqp;
using Provisioning.Device.Transport.Http;
using Provisioning.Device.Transport.Mqtt;

namespace Provisioning.Device;

/// <summary>
/// Registers a device with the Azure IoT Hub Device Provisioning Service over HTTPS, MQTT or AMQP and returns the hub it
/// was assigned to.
/// </summary>
/// <remarks>
/// Over HTTPS, one client keeps one TLS connection open, reused by the TPM challenge, the retries and the polls of every
/// registration (through <see cref="HttpClient"/> when a proxy applies). Over MQTT (<see cref="ProvisioningClientOptions.Transport"/>), each registration opens one connection,
/// whose client id is the registration id, and closes it with DISCONNECT when it ends; registrations of one client then
/// run one at a time. It is safe to share between threads; dispose it when done. dps-protocol.md §1, §5, §7.
/// </remarks>
public sealed class ProvisioningDeviceClient : IDisposable
{
    /// <summary>The public DPS global endpoint.</summary>
    public const string DefaultGlobalEndpoint = "global.azure-devices-provisioning.net";

    private readonly IProvisioningTransport? _http;
    private readonly MqttTransportFactory? _mqtt;
    private readonly AmqpTransportFactory? _amqp;
    private readonly SemaphoreSlim? _connectionGate;
    private readonly ProvisioningClientOptions _options;
    private readonly ILogger _logger;
    private bool _disposed;

    /// <summary>Creates a client.</summary>
    /// <param name="globalEndpoint">The DPS host (e.g. <see cref="DefaultGlobalEndpoint"/>), with an optional port, or an
    /// <c>https://</c> URI (HTTPS), <c>mqtts://</c> URI (MQTT, default port 8883) or <c>wss://</c> URI without a path
    /// (MQTT over WebSockets, default port 443); over AMQP, an <c>amqps://</c> URI (default port 5671) or a <c>wss://</c> URI
    /// without a path (AMQP over WebSockets, default port 443).</param>
    /// <param name="idScope">The DPS ID scope, e.g. <c>0ne00000001</c>.</param>
    /// <param name="attestation">How the device proves its identity; the client does not dispose it.</param>
    /// <param name="options">Settings; default values when <see langword="null"/>. Read once, here.</param>
    /// <exception cref="ArgumentException">An argument or option is invalid, or the attestation is TPM and the transport
    /// MQTT (the service has no TPM challenge over MQTT; use HTTPS).</exception>
    /// <exception cref="NotSupportedException">The application was built with the transport's feature switch off
    /// (<c>Provisioning.Device.{Https|Mqtt|Amqp|WebSockets}.IsSupported</c>; see the package README).</exception>
    public ProvisioningDeviceClient(string globalEndpoint, string idScope, ProvisioningAttestation attestation, ProvisioningClientOptions? options = null)
        : this(globalEndpoint, idScope, attestation, options, handler: null)
    {
    }

    /// <summary>Creates a client for an endpoint given as a URI: <c>https://</c> (HTTPS), <c>mqtts://</c> (MQTT) or <c>wss://</c>
    /// (MQTT over WebSockets), matching <see cref="ProvisioningClientOptions.Transport"/>.</summary>
    /// <param name="globalEndpoint">The DPS endpoint, e.g. <c>new Uri("https://global.azure-devices-provisioning.net/")</c> or an
    /// emulator's <c>GlobalEndpoint</c>.</param>
    /// <param name="idScope">The DPS ID scope, e.g. <c>0ne00000001</c>.</param>
    /// <param name="attestation">How the device proves its identity; the client does not dispose it.</param>
    /// <param name="options">Settings; default values when <see langword="null"/>. Read once, here.</param>
    /// <exception cref="ArgumentException">As for the <see cref="string"/> endpoint; also a relative URI.</exception>
    public ProvisioningDeviceClient(Uri globalEndpoint, string idScope, ProvisioningAttestation attestation, ProvisioningClientOptions? options = null)
        : this(EndpointText(globalEndpoint), idScope, attestation, options, handler: null)
    {
    }

    /// <summary>Creates a client over a given HTTP handler or MQTT connection (tests).</summary>
    internal ProvisioningDeviceClient(
        string globalEndpoint,
        string idScope,
        ProvisioningAttestation attestation,
        ProvisioningClientOptions? options,
        HttpMessageHandler? handler,
        Func<IDpsMqttConnection>? mqttConnection = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(idScope);
        ArgumentNullException.ThrowIfNull(attestation);
        _options = options ?? new ProvisioningClientOptions();
        _options.Validate();
        IdScope = idScope;
        Attestation = attestation;
        _logger = _options.LoggerFactory?.CreateLogger<ProvisioningDeviceClient>() ?? NullLogger<ProvisioningDeviceClient>.Instance;
        // Each branch is guarded by its feature switch, so a build that turns a transport off leaves its code out.
        if (_options.Transport == ProvisioningTransport.Https)
        {
            if (!ProvisioningFeatures.IsHttpsSupported)
            {
                throw ProvisioningFeatures.Removed(_options.Transport, ProvisioningFeatures.HttpsSwitch);
            }

            Uri endpoint = ParseEndpoint(globalEndpoint);
            if (!ProvisioningFeatures.IsHttpClientSupported)
            {
                // The application's build left HttpClient out (a small device): the direct transport, or a clear refusal
                // where only HttpClient would do (a proxy), never a silent bypass of the proxy.
                if (handler is not null || !DirectHttpsTransport.CanUse(endpoint, _options))
                {
                    throw new NotSupportedException(
                        $"DPS over HTTPS through a proxy (or HttpClient) was left out of this application when it was built (the feature switch '{ProvisioningFeatures.HttpClientSwitch}' " +
                        "is false in its project or runtimeconfig): remove the proxy (options or HTTPS_PROXY/ALL_PROXY), or the RuntimeHostConfigurationOption that turns it off.");
                }

                _http = new DirectHttpsTransport(endpoint, attestation, _options);
            }
            else if (handler is null && DirectHttpsTransport.CanUse(endpoint, _options))
            {
                // No proxy: HTTP/1.1 of our own over one TLS connection, without a handler and its pool per client.
                _http = new DirectHttpsTransport(endpoint, attestation, _options);
            }
            else
            {
                var tlsRefusals = new TlsRefusalRecorder();
                _http = new HttpProvisioningTransport(handler ?? ProvisioningHttpHandler.Create(attestation, _options, tlsRefusals), endpoint, _options, tlsRefusals);
            }
        }
        else if (_options.Transport is ProvisioningTransport.Amqp or ProvisioningTransport.AmqpWebSockets)
        {
            if (!ProvisioningFeatures.IsAmqpSupported)
            {
                throw ProvisioningFeatures.Removed(_options.Transport, ProvisioningFeatures.AmqpSwitch);
            }

            _amqp = new AmqpTransportFactory(globalEndpoint, attestation, _options, _logger);
            _connectionGate = new SemaphoreSlim(1, 1);
        }
        else
        {
            if (!ProvisioningFeatures.IsMqttSupported)
            {
                throw ProvisioningFeatures.Removed(_options.Transport, ProvisioningFeatures.MqttSwitch);
            }

            _mqtt = new MqttTransportFactory(globalEndpoint, attestation, _options, _logger, mqttConnection);
            _connectionGate = new SemaphoreSlim(1, 1);
        }
    }

    /// <summary>The DPS ID scope.</summary>
    public string IdScope { get; }

    /// <summary>Whether HTTPS goes through <see cref="DirectHttpsTransport"/> (no proxy) rather than <see cref="HttpClient"/>.</summary>
    internal bool UsesDirectHttps => _http is DirectHttpsTransport;

    /// <summary>The attestation; the hub client signs its tokens with the same one.</summary>
    public ProvisioningAttestation Attestation { get; }

    /// <summary>Registers the device with no payload and waits for the outcome.</summary>
    /// <param name="cancellationToken">Cancels the registration at any step.</param>
    /// <returns>The outcome: check <see cref="DeviceRegistrationResult.Status"/> for assigned, disabled or failed.</returns>
    /// <exception cref="ProvisioningException">The service refused, the network failed past the retries, the deadline
    /// passed, or the service answered something malformed.</exception>
    public Task<DeviceRegistrationResult> RegisterAsync(CancellationToken cancellationToken) => RegisterAsync(null, cancellationToken);

    /// <summary>
    /// Registers the device and waits for the outcome. With a <see cref="ProvisioningClientOptions.RegistrationCache"/>,
    /// a cached assignment for this ID scope and registration id is returned without asking the service, unless
    /// <see cref="ProvisioningRegistrationRequest.BypassCache"/> is set.
    /// </summary>
    /// <param name="request">What to send; default none.</param>
    /// <param name="cancellationToken">Cancels the registration at any step.</param>
    /// <returns>The outcome: check <see cref="DeviceRegistrationResult.Status"/> for assigned, disabled or failed.</returns>
    /// <exception cref="ProvisioningException">The service refused, the network failed past the retries, the deadline
    /// passed, or the service answered something malformed.</exception>
    /// <exception cref="ArgumentException">The request payload is not valid JSON.</exception>
    public Task<DeviceRegistrationResult> RegisterAsync(ProvisioningRegistrationRequest? request = null, CancellationToken cancellationToken = default)
    {
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            request ??= new ProvisioningRegistrationRequest();
            ArgumentException.ThrowIfNullOrWhiteSpace(request.ApiVersion, nameof(request));
            RegistrationRequestWriter.Validate(request);
        }
        catch (Exception ex) when (ex is ArgumentException or ObjectDisposedException)
        {
            // As from an async method: the mistake is in the returned task.
            return Task.FromException<DeviceRegistrationResult>(ex);
        }

        // HTTPS without a cache: the state machine's own task, with no second one around it.
        return _http is not null && _options.RegistrationCache is null
            ? new RegistrationStateMachine(_http, Attestation, IdScope, _options, _logger).RunAsync(request, cancellationToken)
            : RegisterCachedOrOverSocketAsync(request, cancellationToken);
    }

    private async Task<DeviceRegistrationResult> RegisterCachedOrOverSocketAsync(ProvisioningRegistrationRequest request, CancellationToken cancellationToken)
    {
        IRegistrationCache? cache = _options.RegistrationCache;
        if (cache is not null && !request.BypassCache && await LoadCachedAsync(cache, request, cancellationToken).ConfigureAwait(false) is { } cached)
        {
            return cached;
        }

        // The switches again: the constructor made only a transport whose switch is on, and a trimmed build drops the rest.
        DeviceRegistrationResult result = _http is not null && ProvisioningFeatures.IsHttpsSupported
            ? await new RegistrationStateMachine(_http, Attestation, IdScope, _options, _logger).RunAsync(request, cancellationToken).ConfigureAwait(false)
            : _amqp is not null && ProvisioningFeatures.IsAmqpSupported
                ? await RegisterOverAmqpAsync(_amqp, request, cancellationToken).ConfigureAwait(false)
                : _mqtt is not null && ProvisioningFeatures.IsMqttSupported
                    ? await RegisterOverMqttAsync(_mqtt, request, cancellationToken).ConfigureAwait(false)
                    : throw new InvalidOperationException("The client has no transport (unreachable: the constructor makes one).");
        if (cache is not null && result.Status == ProvisioningRegistrationStatus.Assigned)
        {
            await SaveCachedAsync(cache, result, cancellationToken).ConfigureAwait(false);
        }

        return result;
    }

    /// <summary>Forgets the cached registration, so the next registration asks the service.</summary>
    /// <param name="cancellationToken">Cancels the removal.</param>
    public ValueTask InvalidateCachedRegistrationAsync(CancellationToken cancellationToken = default) =>
        _options.RegistrationCache?.InvalidateAsync(cancellationToken) ?? default;

    /// <summary>Closes the connection pool.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _http?.Dispose();
            _mqtt?.Dispose();
            _amqp?.Dispose();
            _connectionGate?.Dispose();
        }
    }

    /// <summary>One registration on its own MQTT connection, closed with DISCONNECT however the registration ends.</summary>
    private async Task<DeviceRegistrationResult> RegisterOverMqttAsync(MqttTransportFactory factory, ProvisioningRegistrationRequest request, CancellationToken cancellationToken)
    {
        // One connection per client id at a time: DPS would close the older of two.
        await _connectionGate!.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            MqttProvisioningTransport transport = factory.Create();
            await using (transport.ConfigureAwait(false))
            {
                return await new RegistrationStateMachine(transport, Attestation, IdScope, _options, _logger).RunAsync(request, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _connectionGate!.Release();
        }
    }

    /// <summary>One registration on its own AMQP connection, closed however the registration ends.</summary>
    private async Task<DeviceRegistrationResult> RegisterOverAmqpAsync(AmqpTransportFactory factory, ProvisioningRegistrationRequest request, CancellationToken cancellationToken)
    {
        // One connection per registration id at a time, as over MQTT.
        await _connectionGate!.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            AmqpProvisioningTransport transport = factory.Create();
            await using (transport.ConfigureAwait(false))
            {
                return await new RegistrationStateMachine(transport, Attestation, IdScope, _options, _logger).RunAsync(request, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            _connectionGate!.Release();
        }
    }

    private async ValueTask<DeviceRegistrationResult?> LoadCachedAsync(IRegistrationCache cache, ProvisioningRegistrationRequest request, CancellationToken cancellationToken)
    {
        CachedRegistration? entry;
        try
        {
            entry = await cache.LoadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            // A broken cache costs one trip to the service, never the registration.
            Log.CacheFailed(_logger, ex.Message);
            return null;
        }

        if (entry is null || entry.IdScope != IdScope)
        {
            return null;
        }

        string registrationId = await Attestation.GetRegistrationIdAsync(cancellationToken).ConfigureAwait(false);
        if (entry.RegistrationId != registrationId)
        {
            return null;
        }

        // An entry that breaks the rules DPS answers are held to (written by an older version, edited, or a custom cache) is
        // removed and DPS asked: a bad entry costs one registration, never the device.
        string? problem = IdentityRules.CheckHubHostName(entry.AssignedHub) is { } hubProblem ? $"assignedHub breaks the rule ({hubProblem})"
            : IdentityRules.CheckDeviceId(entry.DeviceId) is { } idProblem ? $"deviceId breaks the rule ({idProblem})"
            : null;
        if (problem is not null)
        {
            Log.CacheInvalid(_logger, problem);
            try
            {
                await cache.InvalidateAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                Log.CacheFailed(_logger, ex.Message);
            }

            return null;
        }

        CertificateSigningKey? key = request.CertificateSigningKey;
        if (key is not null)
        {
            // A certificate the key no longer matches, or one expired or about to expire, costs one trip to the service.
            DateTimeOffset now = _options.TimeProvider.GetUtcNow();
            if (IssuedCertificateValidator.Check(entry.IssuedCertificateChain, key, registrationId, now, _options.IssuedCertificateTrustedRoots) is { } certificateProblem)
            {
                // A renewal with a new key that stored its certificate but did not retire the old key yet (interrupted): the
                // entry's chain belongs to the key at the other location of the pair.
                CertificateSigningKey? alternate = await OpenAlternateKeyAsync(key, cancellationToken).ConfigureAwait(false);
                if (alternate is null
                    || IssuedCertificateValidator.Check(entry.IssuedCertificateChain, alternate, registrationId, now, _options.IssuedCertificateTrustedRoots) is not null)
                {
                    alternate?.Dispose();
                    Log.CacheFailed(_logger, $"the cached certificate is not usable ({certificateProblem})");
                    return null;
                }

                key = alternate;
            }
        }

        Log.Finished(_logger, registrationId, RegistrationState.Cached, 0, entry.AssignedHub, entry.DeviceId);
        ProvisioningMetrics.RecordRegistration("cached", ProvisioningMetrics.AttestationName(Attestation), ProvisioningMetrics.TransportName(_options.Transport), duration: null);
        return new DeviceRegistrationResult
        {
            RegistrationId = registrationId,
            Status = ProvisioningRegistrationStatus.Assigned,
            AssignedHub = entry.AssignedHub,
            DeviceId = entry.DeviceId,
            LastUpdatedDateTimeUtc = entry.RegisteredAt,
            JsonPayload = entry.JsonPayload,
            IssuedCertificateChain = entry.IssuedCertificateChain,
            CertificateSigningKey = key,
            IsFromCache = true,
        };
    }

    private async ValueTask<CertificateSigningKey?> OpenAlternateKeyAsync(CertificateSigningKey key, CancellationToken cancellationToken)
    {
        try
        {
            return await key.OpenAlternateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or Tpm.TpmException)
        {
            Log.CacheFailed(_logger, $"the certificate key's alternate location could not be read ({ex.Message})");
            return null;
        }
    }

    /// <summary>
    /// Switches the cached registration to a certificate the hub issued in a renewal (<c>$iothub/credentials</c>,
    /// dps-protocol.md §9), in one atomic write of the cache: the next boot connects with <paramref name="chain"/>, whose leaf
    /// must carry <paramref name="key"/>'s public key (with a new key at the other location of the pair, the cache load finds
    /// it there). Call it before the replaced key is retired (the hub package's DeviceConnector does).
    /// </summary>
    /// <param name="chain">The new chain, base64 DER, leaf first.</param>
    /// <param name="key">The key of the new leaf.</param>
    /// <param name="cancellationToken">Cancels the write.</param>
    /// <returns>Whether an entry of this client's ID scope and registration was switched (false: no cache, no such entry, or an
    /// entry that cannot be read, which a boot would not use either).</returns>
    /// <exception cref="ProvisioningException">The chain is not a valid certificate for the key and registration id (nothing is written).</exception>
    /// <exception cref="IOException">The cache could not be written; the previous entry stays.</exception>
    public async ValueTask<bool> UpdateCachedCertificateAsync(IReadOnlyList<string> chain, CertificateSigningKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(chain);
        ArgumentNullException.ThrowIfNull(key);
        if (_options.RegistrationCache is not { } cache)
        {
            return false;
        }

        CachedRegistration? entry;
        try
        {
            entry = await cache.LoadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (InvalidDataException ex)
        {
            // An entry that cannot be read is not used at boot either (LoadCachedAsync): nothing to switch.
            Log.CacheFailed(_logger, ex.Message);
            return false;
        }

        if (entry is null || entry.IdScope != IdScope)
        {
            return false;
        }

        string registrationId = await Attestation.GetRegistrationIdAsync(cancellationToken).ConfigureAwait(false);
        if (entry.RegistrationId != registrationId)
        {
            return false;
        }

        // Never cache what was not validated: the same checks as a registration's chain.
        IssuedCertificateValidator.Validate(chain, key, registrationId, _options.TimeProvider.GetUtcNow(), _options.IssuedCertificateTrustedRoots);
        await cache.SaveAsync(
            new CachedRegistration
            {
                IdScope = entry.IdScope,
                RegistrationId = entry.RegistrationId,
                AssignedHub = entry.AssignedHub,
                DeviceId = entry.DeviceId,
                RegisteredAt = entry.RegisteredAt,
                JsonPayload = entry.JsonPayload,
                IssuedCertificateChain = [.. chain],
            },
            cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async ValueTask SaveCachedAsync(IRegistrationCache cache, DeviceRegistrationResult result, CancellationToken cancellationToken)
    {
        // The reader already refused such answers; this keeps the cache's own promise whatever path produced the result.
        if (IdentityRules.CheckHubHostName(result.AssignedHub) is not null || IdentityRules.CheckDeviceId(result.DeviceId) is not null)
        {
            return;
        }

        try
        {
            await cache.SaveAsync(
                new CachedRegistration
                {
                    IdScope = IdScope,
                    RegistrationId = result.RegistrationId,
                    AssignedHub = result.AssignedHub!,
                    DeviceId = result.DeviceId!,
                    RegisteredAt = result.LastUpdatedDateTimeUtc ?? _options.TimeProvider.GetUtcNow(),
                    JsonPayload = result.JsonPayload,
                    IssuedCertificateChain = result.IssuedCertificateChain,
                },
                cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            Log.CacheFailed(_logger, ex.Message);
        }
    }

    private static string EndpointText(Uri globalEndpoint)
    {
        ArgumentNullException.ThrowIfNull(globalEndpoint);
        if (!globalEndpoint.IsAbsoluteUri)
        {
            throw new ArgumentException("The global endpoint must be an absolute URI (https://, mqtts:// or wss://).", nameof(globalEndpoint));
        }

        return globalEndpoint.OriginalString;
    }

    private static Uri ParseEndpoint(string globalEndpoint)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(globalEndpoint);
        string text = globalEndpoint.Contains("://", StringComparison.Ordinal) ? globalEndpoint : "https://" + globalEndpoint;
        if (!Uri.TryCreate(text, UriKind.Absolute, out Uri? uri) || uri.Scheme != Uri.UriSchemeHttps || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            throw new ArgumentException("The global endpoint must be a host name, host:port or an https:// URI without a query.", nameof(globalEndpoint));
        }

        // Already the base form (a path ending in '/', no query or fragment): no second parse.
        return uri.AbsolutePath.EndsWith('/') && uri.UserInfo.Length == 0 ? uri : new Uri(uri.GetLeftPart(UriPartial.Path).TrimEnd('/') + "/");
    }
}

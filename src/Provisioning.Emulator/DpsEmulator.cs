using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

using Provisioning.Emulator.Allocation;
using Provisioning.Emulator.Certificates;
using Provisioning.Emulator.Device;
using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Faults;
using Provisioning.Emulator.Hosting;
using Provisioning.Emulator.Hubs;
using Provisioning.Emulator.Json;
using Provisioning.Emulator.Mqtt;
using Provisioning.Emulator.Protocol;
using Provisioning.Emulator.Service;
using Provisioning.Emulator.Storage;

namespace Provisioning.Emulator;

/// <summary>
/// A local, protocol-faithful Azure IoT Hub Device Provisioning Service on Kestrel HTTPS: the device API, the service
/// API, allocation across linked hubs, SQLite persistence and fault injection.
/// </summary>
/// <remarks>
/// <code>await using var dps = await DpsEmulator.StartAsync(new DpsEmulatorOptions { RetryAfter = TimeSpan.Zero });</code>
/// Devices talk to <see cref="GlobalEndpoint"/> and trust <see cref="CertificateAuthority"/>. dps-protocol.md §1, §3, §4, §11.
/// </remarks>
public sealed partial class DpsEmulator : IAsyncDisposable
{
    /// <summary>The file the emulator writes in its data folder on start.</summary>
    public const string InfoFileName = "emulator.json";

    /// <summary>
    /// The request header by which a device (or a test) tells <c>geoLatency</c> allocation its region; without it
    /// <see cref="DpsEmulatorOptions.DefaultDeviceRegion"/> applies.
    /// </summary>
    public const string DeviceRegionHeader = "x-emulator-device-region";

    private static readonly JsonSerializerOptions InfoJsonOptions = new(EmulatorJsonContext.Default.Options)
    {
        WriteIndented = true,

        // emulator.json is read by people and shell scripts: keep '+' in keys readable (it is never embedded in HTML).
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    private readonly string? _dataDirectory;

    private readonly WebApplication _app;
    private readonly EmulatorStore _store;
    private readonly HttpClient _webhookClient;
    private readonly X509Certificate2 _serverCertificate;
    private DpsMqttEndpoint? _mqtt;
    private int _disposed;

    private DpsEmulator(WebApplication app, EmulatorStore store, HttpClient webhookClient, X509Certificate2 serverCertificate, EmulatorCertificateAuthority ca, Uri endpoint,
        string idScope, string serviceConnectionString, IReadOnlyList<LinkedHub> hubs, FaultInjector faults, DpsEnrollments enrollments, string? dataDirectory)
    {
        _dataDirectory = dataDirectory;
        _app = app;
        _store = store;
        _webhookClient = webhookClient;
        _serverCertificate = serverCertificate;
        CertificateAuthority = ca;
        GlobalEndpoint = endpoint;
        IdScope = idScope;
        ServiceConnectionString = serviceConnectionString;
        Hubs = hubs;
        Faults = faults;
        Enrollments = enrollments;
    }

    /// <summary>The device API base address (<c>https://localhost:{port}/</c>).</summary>
    public Uri GlobalEndpoint { get; }

    /// <summary>The ID scope devices use.</summary>
    public string IdScope { get; }

    /// <summary>The service connection string (<c>HostName=…;SharedAccessKeyName=provisioningserviceowner;SharedAccessKey=…</c>).</summary>
    public string ServiceConnectionString { get; }

    /// <summary>The CA that issued the server certificate; clients trust it explicitly.</summary>
    public EmulatorCertificateAuthority CertificateAuthority { get; }

    /// <summary>The linked hubs.</summary>
    public IReadOnlyList<LinkedHub> Hubs { get; }

    /// <summary>The device registries of the linked hubs, as DPS fills them.</summary>
    public IHubDeviceRegistry HubRegistry => _store;

    /// <summary>The active fault rules.</summary>
    public FaultInjector Faults { get; }

    /// <summary>The in-process enrollment API.</summary>
    public DpsEnrollments Enrollments { get; }

    /// <summary>DPS over MQTT (TLS) as <c>host:port</c>, or null when off (<see cref="DpsEmulatorOptions.MqttPort"/>).</summary>
    public string? MqttEndpoint { get; private set; }

    /// <summary>DPS over MQTT over WebSockets, <c>wss://host:port/$iothub/websocket</c> (the path <c>/</c> works too), or null when off.</summary>
    public Uri? WebSocketEndpoint { get; private set; }

    /// <summary>DPS-over-MQTT device connections open now (CONNECT accepted, not yet closed); 0 when MQTT is off.</summary>
    /// <remarks>A device that closes its connection after registering brings this back to 0 (the server sees the close shortly after).</remarks>
    public int MqttConnectionCount => _mqtt?.ConnectionCount ?? 0;

    /// <summary>DPS-over-MQTT connections the device ended with DISCONNECT, rather than by dropping the socket.</summary>
    public int MqttCleanDisconnectCount => _mqtt?.CleanDisconnectCount ?? 0;

    /// <summary>Starts the emulator; the port is chosen by the OS unless <see cref="DpsEmulatorOptions.Port"/> is set.</summary>
    /// <exception cref="ArgumentException">The options or the seed file are invalid.</exception>
    public static async Task<DpsEmulator> StartAsync(DpsEmulatorOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var time = options.TimeProvider;
        var seed = options.SeedFile is { } seedPath ? await SeedLoader.ReadAsync(seedPath, cancellationToken).ConfigureAwait(false) : null;
        var linked = options.Hubs.Concat(seed?.Hubs?.Select(h => new LinkedHub(h.HostName!, h.Region) { MqttAddress = h.MqttAddress }) ?? []).ToList();
        if (linked.GroupBy(h => h.HostName, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1) is { } duplicate)
        {
            throw new ArgumentException($"The hub '{duplicate.Key}' is linked twice.", nameof(options));
        }

        IReadOnlyList<LinkedHub> hubs = linked.Count > 0 ? linked : [new LinkedHub("hub1.localhost")];
        var dataDirectory = options.DataDirectory is { } dir ? Path.GetFullPath(dir) : null;

        if (dataDirectory is not null)
        {
            DataFolder.Prepare(dataDirectory);
            DataFolder.CreateKeyFile(Path.Combine(dataDirectory, "emulator.db"));
        }

        var ca = dataDirectory is null ? EmulatorCertificateAuthority.CreateEphemeral(time) : EmulatorCertificateAuthority.LoadOrCreate(dataDirectory, time);
        EmulatorStore? store = null;
        X509Certificate2? serverCertificate = null;
        HttpClient? webhookClient = null;
        WebApplication? app = null;
        try
        {
            store = await EmulatorStore.OpenAsync(dataDirectory is null ? null : Path.Combine(dataDirectory, "emulator.db"), cancellationToken).ConfigureAwait(false);
            var idScope = options.IdScope ?? await store.GetOrAddMetaAsync("idScope", () => "0ne" + Convert.ToHexString(RandomNumberGenerator.GetBytes(4)), cancellationToken).ConfigureAwait(false);
            var serviceKeyText = options.ServiceKey ?? await store.GetOrAddMetaAsync("serviceKey", () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), cancellationToken).ConfigureAwait(false);
            var serviceKey = DeviceAuthenticator.Decode(serviceKeyText) ?? throw new ArgumentException("ServiceKey is not base64.", nameof(options));
            var caReferences = new ConcurrentDictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            var validator = new EnrollmentValidator(caReferences);
            if (seed is not null)
            {
                await SeedLoader.ApplyAsync(seed, store, validator, time, cancellationToken).ConfigureAwait(false);
            }

            serverCertificate = ca.IssueServerCertificate(options.HostName, "localhost", "127.0.0.1", "::1");
            webhookClient = options.WebhookHandler is { } handler ? new HttpClient(handler, disposeHandler: false) : new HttpClient();
            webhookClient.Timeout = TimeSpan.FromSeconds(30);
            var faults = new FaultInjector(options.Faults);
            var serviceAuthenticator = new ServiceAuthenticator(serviceKey, options);
            app = BuildApplication(options, serverCertificate);
            var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger<DpsEmulator>();
            var operations = new OperationStore(time);
            var deviceService = new DeviceService(store, options, idScope, new DeviceAuthenticator(store, options, idScope),
                new RegistrationProcessor(store, options, hubs, new CustomAllocationClient(webhookClient), ca), operations,
                options.RegistrationsPerMinute is { } limit ? new RegistrationThrottle(limit, time) : null, faults);
            var attempts = new Portal.RegistrationAttempts(store, time);
            app.Use(attempts.InvokeAsync);
            MapPipeline(app, options, logger, faults, new DeviceEndpoints(deviceService), new ServiceEndpoints(store, options, serviceAuthenticator, validator, operations));

            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            var port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
            var host = ServiceHost(options.HostName, port);
            serviceAuthenticator.Audiences = [host, options.HostName];

            var emulator = new DpsEmulator(app, store, webhookClient, serverCertificate, ca, new Uri("https://" + host + "/"), idScope,
                $"HostName={host};SharedAccessKeyName={ServiceAuthenticator.KeyName};SharedAccessKey={serviceKeyText}", hubs, faults,
                new DpsEnrollments(store, time, caReferences), dataDirectory);
            emulator._attempts = attempts;
            emulator.Operations = operations;
            try
            {
                await emulator.StartHubsAsync(options, cancellationToken).ConfigureAwait(false);
                await emulator.StartMqttAsync(deviceService, options, cancellationToken).ConfigureAwait(false);
                await emulator.StartPortalAsync(options, cancellationToken).ConfigureAwait(false);
                await emulator.StartAmqpAsync(deviceService, options, cancellationToken).ConfigureAwait(false);
                await emulator.UpdateInfoFileAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // The rest is released below; the hubs and the MQTT endpoint only the emulator knows.
                await emulator.StopPortalAsync().ConfigureAwait(false);
                await emulator.StopMqttAsync().ConfigureAwait(false);
                await emulator.StopAmqpAsync().ConfigureAwait(false);
                await emulator.StopHubsAsync().ConfigureAwait(false);
                throw;
            }

            EmulatorLog.Started(logger, emulator.GlobalEndpoint, idScope);
            return emulator;
        }
        catch
        {
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }

            if (store is not null)
            {
                await store.DisposeAsync().ConfigureAwait(false);
            }

            webhookClient?.Dispose();
            serverCertificate?.Dispose();
            ca.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The host of the global endpoint and of the service connection string's <c>HostName</c>: on 443, the host name alone,
    /// because the official service SDKs build <c>https://{HostName}</c> and cannot parse a port there.
    /// </summary>
    internal static string ServiceHost(string hostName, int port) =>
        port == 443 ? hostName : hostName + ":" + port.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>The <c>emulator.json</c> text: endpoint, ID scope, service connection string, CA path and hubs.</summary>
    public string DescribeJson() => JsonSerializer.Serialize(
        new EmulatorInfoFile
        {
            GlobalEndpoint = GlobalEndpoint.ToString(),
            IdScope = IdScope,
            ServiceConnectionString = ServiceConnectionString,
            CaCertificate = CertificateAuthority.CertificatePemPath,
            Hubs = Hubs.Select(h => new EmulatorInfoHub { HostName = h.HostName, Region = h.Region, MqttAddress = h.MqttAddress, WebSocketAddress = h.WebSocketAddress }).ToList(),
            MqttEndpoint = MqttEndpoint,
            WebSocketEndpoint = WebSocketEndpoint?.ToString(),
            PortalUrl = PortalUrl?.ToString(),
            AmqpEndpoint = AmqpEndpoint,
            AmqpWebSocketEndpoint = AmqpWebSocketEndpoint?.ToString(),
        },
        (System.Text.Json.Serialization.Metadata.JsonTypeInfo<EmulatorInfoFile>)InfoJsonOptions.GetTypeInfo(typeof(EmulatorInfoFile)));

    /// <summary>
    /// Rewrites <c>&lt;data&gt;/emulator.json</c> (e.g. once the hubs set <see cref="LinkedHub.MqttAddress"/>); does nothing
    /// for an in-memory emulator.
    /// </summary>
    /// <remarks>The file holds the service key and the portal's access token: it is written owner-only (0600 on Unix).</remarks>
    public Task UpdateInfoFileAsync(CancellationToken cancellationToken = default) => _dataDirectory is null
        ? Task.CompletedTask
        : DataFolder.WriteKeyFileAsync(Path.Combine(_dataDirectory, InfoFileName), DescribeJson(), cancellationToken);

    /// <summary>Starts DPS over MQTT and WebSockets (dps-protocol.md §5) on the same device service, certificate and host name as HTTPS.</summary>
    private async Task StartMqttAsync(DeviceService service, DpsEmulatorOptions options, CancellationToken cancellationToken)
    {
        if (options.MqttPort is null && options.WebSocketPort is null)
        {
            return;
        }

        _mqtt = await DpsMqttEndpoint.StartAsync(service, _serverCertificate, options.MqttPort, options.WebSocketPort, options.LoggerFactory, cancellationToken).ConfigureAwait(false);
        var invariant = System.Globalization.CultureInfo.InvariantCulture;
        MqttEndpoint = _mqtt.TcpPort is { } tcp ? options.HostName + ":" + tcp.ToString(invariant) : null;
        WebSocketEndpoint = _mqtt.WebSocketPort is { } ws ? new Uri($"wss://{options.HostName}:{ws.ToString(invariant)}{DpsMqttListener.WebSocketPath}") : null;
    }

    private async Task StopMqttAsync()
    {
        if (Interlocked.Exchange(ref _mqtt, null) is { } mqtt)
        {
            await mqtt.DisposeAsync().ConfigureAwait(false);
        }
    }

    private static WebApplication BuildApplication(DpsEmulatorOptions options, X509Certificate2 serverCertificate)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddSingleton(options.LoggerFactory ?? NullLoggerFactory.Instance);
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            // Kestrel counts bytes it has buffered, not what the handler read: the 96 KB rule is enforced by RequestBody alone,
            // with a 413 in the DPS shape; this outer bound only stops abuse.
            kestrel.Limits.MaxRequestBodySize = 4 * DpsEmulatorOptions.MaxRequestBodyBytes;
            // Client certificates are judged against the enrollments (DeviceAuthenticator), with the intermediates the device sent.
            kestrel.Listen(IPAddress.Loopback, options.Port, listen => listen.UseDeviceTls(serverCertificate, options.TlsHandshakeTimeout));
        });
        return builder.Build();
    }

    private static void MapPipeline(WebApplication app, DpsEmulatorOptions options, ILogger logger, FaultInjector faults, DeviceEndpoints device, ServiceEndpoints service)
    {
        var time = options.TimeProvider;
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context).ConfigureAwait(false);
                if (context.RequestAborted.IsCancellationRequested)
                {
                    EmulatorLog.ClientAborted(logger, context.Request.Method, context.Request.Path.Value ?? "", "closed before the answer");
                }
            }
            catch (Exception ex) when (context.RequestAborted.IsCancellationRequested || ex is IOException)
            {
                // A client that went away (reset, closed mid-body): nothing to answer and nothing wrong with the emulator. Aborting
                // keeps Kestrel from draining a body whose read just failed (it logs that as an error of its own).
                context.Abort();
                EmulatorLog.ClientAborted(logger, context.Request.Method, context.Request.Path.Value ?? "", ex is IOException ? "connection reset" : "request aborted");
            }
            catch (Exception ex)
            {
                EmulatorLog.Unhandled(logger, ex, context.Request.Method, context.Request.Path.Value ?? "");
                if (!context.Response.HasStarted)
                {
                    context.Response.Clear();
                    await DpsErrorWriter.WriteErrorAsync(context, DpsErrorCodes.InternalError, "An internal error occurred.", time).ConfigureAwait(false);
                }
            }
        });
        app.Use(new FaultMiddleware(faults, time).InvokeAsync);
        app.UseRouting();
        device.Map(app);
        service.Map(app);
        app.MapFallback(context => DpsErrorWriter.WriteErrorAsync(context, DpsErrorCodes.NotFound, "No such resource or operation.", time));
    }

    /// <summary>Stops serving, flushes the store and releases the CA.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await StopPortalAsync().ConfigureAwait(false);
        await StopMqttAsync().ConfigureAwait(false);
        await StopAmqpAsync().ConfigureAwait(false);
        await StopHubsAsync().ConfigureAwait(false);
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        await _store.DisposeAsync().ConfigureAwait(false);
        _webhookClient.Dispose();
        _serverCertificate.Dispose();
        CertificateAuthority.Dispose();
    }

}

using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Device.Hub.Tests;

/// <summary>One emulated hub on loopback with real TLS from a test CA, plus helpers to register devices and open clients.</summary>
public sealed class HubTestBed : IAsyncDisposable
{
    public const string HubName = "test-hub.azure-devices.net";

    private readonly TestPki _pki;
    private readonly X509Certificate2 _serverCertificate;
    private readonly List<DeviceClient> _clients = [];

    private HubTestBed(TestPki pki, X509Certificate2 serverCertificate, EmulatedIotHub hub, InMemoryHubDeviceRegistry registry, TimeProvider time)
    {
        _pki = pki;
        _serverCertificate = serverCertificate;
        Hub = hub;
        Registry = registry;
        Time = time;
    }

    public EmulatedIotHub Hub { get; }

    public InMemoryHubDeviceRegistry Registry { get; }

    public TimeProvider Time { get; }

    public static async Task<HubTestBed> StartAsync(TimeProvider? time = null, bool serverAuthCertificate = true)
    {
        var pki = new TestPki();
        var serverCertificate = pki.IssueServer(HubName, serverAuthCertificate);
        var registry = new InMemoryHubDeviceRegistry();
        time ??= TimeProvider.System;
        var hub = await EmulatedIotHub.StartAsync(new EmulatedIotHubOptions
        {
            HubHostName = HubName,
            ServerCertificate = serverCertificate,
            Registry = registry,
            TimeProvider = time,
        }, TestContext.Current.CancellationToken);
        return new HubTestBed(pki, serverCertificate, hub, registry, time);
    }

    /// <summary>Starts the hub's WebSocket endpoint (disposed with the test bed).</summary>
    public async Task<EmulatedHubWebSocketEndpoint> StartWebSocketAsync()
    {
        var endpoint = await EmulatedHubWebSocketEndpoint.StartAsync(Hub, _serverCertificate, cancellationToken: TestContext.Current.CancellationToken);
        _webSockets.Add(endpoint);
        return endpoint;
    }

    private readonly List<EmulatedHubWebSocketEndpoint> _webSockets = [];

    public DeviceClientOptions Options(Action<DeviceClientOptions>? configure = null)
    {
        var options = new DeviceClientOptions
        {
            TimeProvider = Time,
            MinReconnectDelay = TimeSpan.FromMilliseconds(50),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(300),
        };
        options.HubAddresses[HubName] = Hub.MqttAddress;
        options.TrustedRootCertificates.Add(_pki.Root);
        configure?.Invoke(options);
        return options;
    }

    public async Task<byte[]> RegisterKeyAsync(string deviceId, HubCredentialKind kind = HubCredentialKind.SymmetricKey)
    {
        var key = RandomNumberGenerator.GetBytes(32);
        await Registry.UpsertAsync(new HubDevice(HubName, deviceId, kind, key, null, null, true, null), TestContext.Current.CancellationToken);
        return key;
    }

    public DeviceClient Create(string deviceId, HubAuthentication authentication, Action<DeviceClientOptions>? configure = null)
    {
        var client = new DeviceClient(HubName, deviceId, authentication, Options(configure));
        _clients.Add(client);
        return client;
    }

    public async Task<DeviceClient> OpenAsync(string deviceId, HubAuthentication authentication, Action<DeviceClientOptions>? configure = null)
    {
        var client = Create(deviceId, authentication, configure);
        await client.OpenAsync(TestContext.Current.CancellationToken);
        return client;
    }

    public async Task<DeviceClient> OpenSymmetricAsync(string deviceId, Action<DeviceClientOptions>? configure = null)
    {
        var key = await RegisterKeyAsync(deviceId);
        return await OpenAsync(deviceId, HubAuthentication.FromSymmetricKey(key), configure);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            await client.DisposeAsync();
        }

        foreach (var endpoint in _webSockets)
        {
            await endpoint.DisposeAsync();
        }

        await Hub.DisposeAsync();
        _serverCertificate.Dispose();
        _pki.Dispose();
    }
}

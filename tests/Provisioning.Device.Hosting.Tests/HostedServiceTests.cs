using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Provisioning.Device.Hub;
using Provisioning.Emulator;

namespace Provisioning.Device.Hosting.Tests;

/// <summary>
/// A Generic Host with <c>AddDeviceProvisioning</c> against the in-process emulator: the hosted service provisions at start,
/// hands out the connected client, reports health, comes back from the registration cache, and provisions again when the hub
/// refuses the device while it runs.
/// </summary>
public sealed class HostedServiceTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "provisioning-hosting-tests", Guid.NewGuid().ToString("N"));
    private readonly string _keyVariable = "PROVISIONING_HOSTING_TEST_KEY_" + Guid.NewGuid().ToString("N");
    private DpsEmulator _dps = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_folder);
        var options = new DpsEmulatorOptions { RetryAfter = TimeSpan.Zero };
        options.Hubs.Add(new LinkedHub("hub1.hosting.localhost"));
        _dps = await DpsEmulator.StartAsync(options, Ct);
        await File.WriteAllTextAsync(Path.Combine(_folder, "ca.pem"), _dps.CertificateAuthority.CertificatePem, Ct);
    }

    public async ValueTask DisposeAsync()
    {
        Environment.SetEnvironmentVariable(_keyVariable, null);
        await _dps.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    private Dictionary<string, string?> Settings(string registrationId, Dictionary<string, string?>? extra = null)
    {
        var settings = new Dictionary<string, string?>
        {
            ["DeviceProvisioning:GlobalEndpoint"] = _dps.GlobalEndpoint.ToString(),
            ["DeviceProvisioning:IdScope"] = _dps.IdScope,
            ["DeviceProvisioning:Attestation:Type"] = "SymmetricKey",
            ["DeviceProvisioning:Attestation:RegistrationId"] = registrationId,
            ["DeviceProvisioning:Attestation:SymmetricKeyEnvironmentVariable"] = _keyVariable,
            ["DeviceProvisioning:TrustedRootCertificatesPath"] = Path.Combine(_folder, "ca.pem"),
            ["DeviceProvisioning:RegistrationCachePath"] = Path.Combine(_folder, "registration.json"),
            ["DeviceProvisioning:MinRetryDelay"] = "00:00:00.050",
            ["DeviceProvisioning:MaxRetryDelay"] = "00:00:00.200",
        };
        foreach (var (host, address) in _dps.HubAddresses)
        {
            settings[$"DeviceProvisioning:HubAddresses:{host}"] = address;
        }

        foreach (var (key, value) in extra ?? [])
        {
            settings[key] = value;
        }

        return settings;
    }

    private static IHost Build(Dictionary<string, string?> settings)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services.AddDeviceProvisioning(builder.Configuration.GetSection("DeviceProvisioning"));
        builder.Services.AddHealthChecks().AddDeviceProvisioning();
        return builder.Build();
    }

    private static async Task<HealthReport> HealthAsync(IHost host) =>
        await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync(Ct);

    /// <summary>A hang guard for waits on background work, not a timed assertion.</summary>
    private static CancellationToken Guard(out CancellationTokenSource source)
    {
        source = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        source.CancelAfter(TimeSpan.FromSeconds(60));
        return source.Token;
    }

    [Fact]
    public async Task Start_ProvisionsWithTheKeyFromTheEnvironment_HandsOutTheConnectedClient_Healthy_ThenFromTheCache()
    {
        var keys = await _dps.Enrollments.AddSymmetricKeyAsync("hosted-01", cancellationToken: Ct);
        Environment.SetEnvironmentVariable(_keyVariable, keys.PrimaryKey);

        using (var host = Build(Settings("hosted-01")))
        {
            var connection = host.Services.GetRequiredService<DeviceConnection>();
            Assert.Equal(HealthStatus.Degraded, (await HealthAsync(host)).Status); // not started: Starting
            await host.StartAsync(Ct);

            var client = await connection.GetClientAsync(Guard(out var guard));
            guard.Dispose();
            Assert.Equal(DeviceConnectionStatus.Connected, connection.Status);
            Assert.Equal(ConnectionState.Connected, client.State);
            Assert.False(client.Registration!.IsFromCache);
            Assert.Same(client, connection.Client);
            await client.SendEventAsync(new HubMessage("{\"hosted\":1}"u8.ToArray()), Ct);
            var received = await _dps.GetHub(client.HubHostName).ReadTelemetryAsync(client.DeviceId, Ct);
            Assert.Equal("{\"hosted\":1}", Encoding.UTF8.GetString(received.Body.Span));

            var report = await HealthAsync(host);
            Assert.Equal(HealthStatus.Healthy, report.Status);
            Assert.Equal("hub1.hosting.localhost", report.Entries["device-provisioning"].Data["hub"]);

            await host.StopAsync(Ct);
            Assert.Equal(DeviceConnectionStatus.Stopped, connection.Status);
            Assert.Equal(ConnectionState.Closed, client.State);
            await Assert.ThrowsAsync<ObjectDisposedException>(() => connection.GetClientAsync(Ct));
            Assert.Equal(HealthStatus.Unhealthy, (await HealthAsync(host)).Status);
        }

        // A second start (a reboot) comes from the registration cache file.
        using (var host = Build(Settings("hosted-01")))
        {
            await host.StartAsync(Ct);
            var client = await host.Services.GetRequiredService<DeviceConnection>().GetClientAsync(Guard(out var guard));
            guard.Dispose();
            Assert.True(client.Registration!.IsFromCache);
            await host.StopAsync(Ct);
        }
    }

    [Fact]
    public async Task HubRefusesTheDeviceWhileItRuns_TheServiceProvisionsAgain_AndHandsOutANewClient()
    {
        var keys = await _dps.Enrollments.AddSymmetricKeyAsync("hosted-02", cancellationToken: Ct);
        Environment.SetEnvironmentVariable(_keyVariable, keys.PrimaryKey);
        using var host = Build(Settings("hosted-02"));
        var connection = host.Services.GetRequiredService<DeviceConnection>();
        var reprovisioning = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        connection.StatusChanged += (_, status) =>
        {
            if (status == DeviceConnectionStatus.Reprovisioning)
            {
                reprovisioning.TrySetResult();
            }
        };
        await host.StartAsync(Ct);
        var first = await connection.GetClientAsync(Guard(out var guard));
        var hub = _dps.GetHub(first.HubHostName);

        // Disabled in the hub: the connection drops, the reconnect is refused, the service goes back to DPS.
        await hub.SetDeviceEnabledAsync(first.DeviceId, enabled: false, Ct);
        await reprovisioning.Task.WaitAsync(guard.Token);
        Assert.IsType<HubException>(connection.LastError);
        Assert.NotEqual(HealthStatus.Healthy, (await HealthAsync(host)).Status);

        // Enabled again (the operator's fix): the next round connects, and the application gets the new client.
        await hub.SetDeviceEnabledAsync(first.DeviceId, enabled: true, Ct);
        var second = await connection.GetClientAsync(guard.Token);
        guard.Dispose();

        Assert.NotSame(first, second);
        Assert.Equal(ConnectionState.Closed, first.State);
        await second.SendEventAsync(new HubMessage("{\"after\":1}"u8.ToArray()), Ct);
        var received = await hub.ReadTelemetryAsync(second.DeviceId, Ct);
        Assert.Equal("{\"after\":1}", Encoding.UTF8.GetString(received.Body.Span));
        Assert.Equal(HealthStatus.Healthy, (await HealthAsync(host)).Status);
        await host.StopAsync(Ct);
    }

    [Fact]
    public async Task DpsRefusesTheDevice_TheServiceFails_GetClientThrows_HealthIsUnhealthy_HostKeepsRunning()
    {
        // Not enrolled: DPS answers 401 (non-transient), which no retry can fix.
        Environment.SetEnvironmentVariable(_keyVariable, Convert.ToBase64String(new byte[32]));
        using var host = Build(Settings("hosted-unknown"));
        var connection = host.Services.GetRequiredService<DeviceConnection>();
        await host.StartAsync(Ct);

        var token = Guard(out var guard);
        var error = await Assert.ThrowsAsync<ProvisioningException>(() => connection.GetClientAsync(token));
        guard.Dispose();

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, error.StatusCode);
        Assert.Equal(DeviceConnectionStatus.Failed, connection.Status);
        var report = await HealthAsync(host);
        Assert.Equal(HealthStatus.Unhealthy, report.Status);
        Assert.Same(error, report.Entries["device-provisioning"].Exception);
        Assert.DoesNotContain(Convert.ToBase64String(new byte[32]), report.Entries["device-provisioning"].Description, StringComparison.Ordinal);
        await host.StopAsync(Ct);
        Assert.Equal(DeviceConnectionStatus.Failed, connection.Status);
    }
}

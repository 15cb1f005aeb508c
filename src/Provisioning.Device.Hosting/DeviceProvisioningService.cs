using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Provisioning.Device.Hub;
using Provisioning.Device.Tpm;

namespace Provisioning.Device.Hosting;

/// <summary>
/// Provisions the device when the host starts, through <see cref="DeviceConnector"/> (the registration cache or DPS, then the
/// hub; back to DPS when the hub refuses the identity or stays unreachable), publishes the connected client on
/// <see cref="DeviceConnection"/>, and provisions again when the hub refuses the device while it runs.
/// </summary>
/// <remarks>A failure that retrying cannot fix (DPS refused the device, <c>disabled</c>, <c>failed</c>, or
/// <see cref="DeviceProvisioningOptions.MaxAttempts"/> reached) is logged and reported through <see cref="DeviceConnection"/> and
/// the health check; it does not stop the host.</remarks>
internal sealed partial class DeviceProvisioningService(
    IOptions<DeviceProvisioningOptions> options,
    DeviceConnection connection,
    TimeProvider time,
    ILoggerFactory? loggerFactory = null) : BackgroundService
{
    private readonly ILogger _logger = loggerFactory?.CreateLogger<DeviceProvisioningService>() ?? NullLogger<DeviceProvisioningService>.Instance;
    private TaskCompletionSource _refused = NewSignal();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var settings = options.Value;
        var roots = new X509Certificate2Collection();
        ProvisioningAttestation? attestation = null;
        IAsyncDisposable? owned = null;
        DeviceClient? client = null;
        try
        {
            connection.SetProvisioning(DeviceConnectionStatus.Provisioning);
            if (settings.TrustedRootCertificatesPath is { Length: > 0 } rootsPath)
            {
                roots.ImportFromPemFile(rootsPath);
            }

            (attestation, owned) = DeviceAttestationFactory.Create(settings.Attestation, loggerFactory, time);
            var clientOptions = new ProvisioningClientOptions
            {
                Transport = settings.Transport,
                LoggerFactory = loggerFactory,
                TimeProvider = time,
                RegistrationCache = settings.RegistrationCachePath is { Length: > 0 } path ? new FileRegistrationCache(path) : null,
            };
            clientOptions.TrustedRootCertificates.AddRange(roots);
            using var provisioning = new ProvisioningDeviceClient(settings.GlobalEndpoint, settings.IdScope!, attestation, clientOptions);

            var hubOptions = new DeviceClientOptions
            {
                LoggerFactory = loggerFactory,
                TimeProvider = time,
                ModelId = settings.ModelId,
                ReprovisionRequired = (_, _) =>
                {
                    Volatile.Read(ref _refused).TrySetResult();
                    return ValueTask.CompletedTask;
                },
            };
            hubOptions.TrustedRootCertificates.AddRange(roots);
            foreach (var (host, address) in settings.HubAddresses)
            {
                hubOptions.HubAddresses[host] = address;
            }

            var connector = new DeviceConnector(provisioning, new DeviceConnectorOptions
            {
                HubOptions = hubOptions,
                HubUnreachableTimeout = settings.HubUnreachableTimeout,
                MinRetryDelay = settings.MinRetryDelay,
                MaxRetryDelay = settings.MaxRetryDelay,
                MaxAttempts = settings.MaxAttempts,
                Request = settings.RegistrationPayload is { } payload ? new ProvisioningRegistrationRequest { JsonPayload = payload } : null,
            });
            connector.Reprovisioning += (_, e) => LogReprovisioning(_logger, e.Reason, e.Error.Message, e.Delay);

            while (!stoppingToken.IsCancellationRequested)
            {
                client = await connector.ConnectAsync(stoppingToken).ConfigureAwait(false);
                LogConnected(_logger, client.HubHostName, client.DeviceId, client.Registration?.IsFromCache == true ? "the registration cache" : "DPS");
                connection.SetConnected(client);

                // Until the hub refuses the device (deleted, disabled, moved) or the host stops.
                await Volatile.Read(ref _refused).Task.WaitAsync(stoppingToken).ConfigureAwait(false);
                LogRefused(_logger, client.HubHostName, client.DeviceId);
                connection.SetProvisioning(DeviceConnectionStatus.Reprovisioning, new HubException($"The hub {client.HubHostName} refused device '{client.DeviceId}'.", 0, isTransient: false));
                Volatile.Write(ref _refused, NewSignal());
                await client.DisposeAsync().ConfigureAwait(false);
                client = null;
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // The host is stopping.
        }
        catch (Exception ex) when (ex is ProvisioningException or HubException or TpmException or IOException or UnauthorizedAccessException
            or System.Security.Cryptography.CryptographicException or InvalidOperationException or ArgumentException)
        {
            LogFailed(_logger, ex.GetType().Name, ex.Message);
            connection.SetFailed(ex);
        }
        finally
        {
            if (client is not null)
            {
                await client.DisposeAsync().ConfigureAwait(false);
            }

            attestation?.Dispose();
            if (owned is not null)
            {
                await owned.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var root in roots)
            {
                root.Dispose();
            }

            if (connection.Status != DeviceConnectionStatus.Failed)
            {
                connection.SetStopped();
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        connection.SetStopped();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Device connected to {Hub} as {DeviceId} (identity from {Source})")]
    private static partial void LogConnected(ILogger logger, string hub, string deviceId, string source);

    [LoggerMessage(EventId = 2, Level = LogLevel.Warning, Message = "Back to DPS ({Reason}): {Error}; next round in {Delay}")]
    private static partial void LogReprovisioning(ILogger logger, ReprovisioningReason reason, string error, TimeSpan delay);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "The hub {Hub} refused device {DeviceId} while connected: provisioning again")]
    private static partial void LogRefused(ILogger logger, string hub, string deviceId);

    [LoggerMessage(EventId = 4, Level = LogLevel.Error, Message = "Device provisioning failed ({Kind}): {Error}. The health check reports it; restart the host to try again")]
    private static partial void LogFailed(ILogger logger, string kind, string error);
}

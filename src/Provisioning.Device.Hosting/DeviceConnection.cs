using Provisioning.Device.Hub;

namespace Provisioning.Device.Hosting;

/// <summary>Where the provisioning hosted service stands.</summary>
public enum DeviceConnectionStatus
{
    /// <summary>The host has not started the service yet.</summary>
    Starting,

    /// <summary>Registering (the cache or DPS) and connecting to the hub.</summary>
    Provisioning,

    /// <summary>A client is connected (it reconnects on its own after a drop; <see cref="DeviceClient.State"/> says so).</summary>
    Connected,

    /// <summary>The hub refused the device while it ran; going back to DPS.</summary>
    Reprovisioning,

    /// <summary>Provisioning failed for good (DPS refused the device, or <see cref="DeviceProvisioningOptions.MaxAttempts"/>
    /// rounds failed): <see cref="DeviceConnection.LastError"/> says why. Restart the host to try again.</summary>
    Failed,

    /// <summary>The host stopped (a service that had <see cref="Failed"/> stays so).</summary>
    Stopped,
}

/// <summary>
/// The application's access to the device's hub connection, a singleton in the container: the hosted service provisions at
/// start and publishes the connected <see cref="DeviceClient"/> here.
/// </summary>
/// <example><code>
/// public sealed class Telemetry(DeviceConnection device) : BackgroundService
/// {
///     protected override async Task ExecuteAsync(CancellationToken stoppingToken)
///     {
///         var client = await device.GetClientAsync(stoppingToken);
///         await client.SendEventAsync(new HubMessage("{}"u8.ToArray()), stoppingToken);
///     }
/// }
/// </code></example>
public sealed class DeviceConnection
{
    private readonly Lock _gate = new();
    private TaskCompletionSource<DeviceClient> _client = NewSource();
    private DeviceConnectionStatus _status = DeviceConnectionStatus.Starting;
    private DeviceClient? _current;

    /// <summary>Where the service stands.</summary>
    public DeviceConnectionStatus Status
    {
        get
        {
            lock (_gate)
            {
                return _status;
            }
        }
    }

    /// <summary>The connected client, or <see langword="null"/> while provisioning. The service owns it: do not dispose it.</summary>
    public DeviceClient? Client
    {
        get
        {
            lock (_gate)
            {
                return _current;
            }
        }
    }

    /// <summary>The registration of <see cref="Client"/> (<see cref="DeviceRegistrationResult.IsFromCache"/> says whether DPS was
    /// asked), or <see langword="null"/>.</summary>
    public DeviceRegistrationResult? Registration => Client?.Registration;

    /// <summary>The last error: the one that failed the service, or the last refusal or failure that sent it back to DPS.</summary>
    public Exception? LastError { get; private set; }

    /// <summary>Raised on every <see cref="Status"/> change, on the service's thread.</summary>
    public event EventHandler<DeviceConnectionStatus>? StatusChanged;

    /// <summary>Waits for the connected client: at once when connected, else when provisioning ends.</summary>
    /// <param name="cancellationToken">Stops the wait (not the provisioning).</param>
    /// <returns>The connected client, owned by the service: do not dispose it. After a reprovisioning it is a new one, so ask
    /// again rather than keeping it.</returns>
    /// <exception cref="ProvisioningException">Provisioning failed for good (<see cref="DeviceConnectionStatus.Failed"/>).</exception>
    /// <exception cref="HubException">The hub kept refusing or stayed unreachable past <see cref="DeviceProvisioningOptions.MaxAttempts"/>.</exception>
    /// <exception cref="ObjectDisposedException">The host stopped.</exception>
    public Task<DeviceClient> GetClientAsync(CancellationToken cancellationToken = default)
    {
        Task<DeviceClient> current;
        lock (_gate)
        {
            current = _client.Task;
        }

        return current.WaitAsync(cancellationToken);
    }

    internal void SetProvisioning(DeviceConnectionStatus status, Exception? error = null)
    {
        lock (_gate)
        {
            if (_client.Task.IsCompleted)
            {
                _client = NewSource();
            }

            LastError = error ?? LastError;
            _status = status;
            _current = null;
        }

        StatusChanged?.Invoke(this, status);
    }

    internal void SetConnected(DeviceClient client)
    {
        lock (_gate)
        {
            _status = DeviceConnectionStatus.Connected;
            _current = client;
            _client.TrySetResult(client);
        }

        StatusChanged?.Invoke(this, DeviceConnectionStatus.Connected);
    }

    internal void SetFailed(Exception error)
    {
        lock (_gate)
        {
            LastError = error;
            _status = DeviceConnectionStatus.Failed;
            _current = null;
            if (!_client.TrySetException(error))
            {
                _client = NewSource();
                _client.SetException(error);
            }

            _ = _client.Task.Exception;
        }

        StatusChanged?.Invoke(this, DeviceConnectionStatus.Failed);
    }

    internal void SetStopped()
    {
        lock (_gate)
        {
            if (_status is DeviceConnectionStatus.Stopped or DeviceConnectionStatus.Failed)
            {
                return;
            }

            _status = DeviceConnectionStatus.Stopped;
            _current = null;
            var stopped = new ObjectDisposedException(nameof(DeviceConnection), "The host stopped: the device connection is closed.");
            if (!_client.TrySetException(stopped))
            {
                _client = NewSource();
                _client.SetException(stopped);
            }

            // Nobody may be waiting; the exception is observed here so it is not reported as unobserved.
            _ = _client.Task.Exception;
        }

        StatusChanged?.Invoke(this, DeviceConnectionStatus.Stopped);
    }

    private static TaskCompletionSource<DeviceClient> NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

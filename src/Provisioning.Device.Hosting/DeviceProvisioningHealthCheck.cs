using Microsoft.Extensions.Diagnostics.HealthChecks;
using Provisioning.Device.Hub;

namespace Provisioning.Device.Hosting;

/// <summary>
/// Healthy while the device is connected to its hub; degraded while provisioning, reprovisioning or reconnecting after a drop;
/// unhealthy when provisioning failed for good, the hub refused the device, or the host stopped.
/// </summary>
internal sealed class DeviceProvisioningHealthCheck(DeviceConnection connection) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = connection.Status;
        var client = connection.Client;
        var data = new Dictionary<string, object>(StringComparer.Ordinal) { ["status"] = status.ToString() };
        if (client is not null)
        {
            data["hub"] = client.HubHostName;
            data["deviceId"] = client.DeviceId;
            data["connection"] = client.State.ToString();
        }

        var result = status switch
        {
            DeviceConnectionStatus.Connected when client?.State == ConnectionState.Connected =>
                HealthCheckResult.Healthy($"Connected to {client.HubHostName}.", data),
            DeviceConnectionStatus.Connected when client?.State == ConnectionState.Refused =>
                HealthCheckResult.Unhealthy($"The hub {client.HubHostName} refused the device.", data: data),
            DeviceConnectionStatus.Connected =>
                HealthCheckResult.Degraded($"Reconnecting to {client?.HubHostName} ({client?.State}).", data: data),
            DeviceConnectionStatus.Starting or DeviceConnectionStatus.Provisioning or DeviceConnectionStatus.Reprovisioning =>
                HealthCheckResult.Degraded($"{status}: not connected yet.", connection.LastError, data),
            DeviceConnectionStatus.Failed =>
                HealthCheckResult.Unhealthy($"Provisioning failed: {connection.LastError?.Message}", connection.LastError, data),
            _ => HealthCheckResult.Unhealthy("The host stopped.", data: data),
        };
        return Task.FromResult(result);
    }
}

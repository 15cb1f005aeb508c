using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using Provisioning.Device;
using Provisioning.Device.Hosting;
using Provisioning.Device.Hub;

namespace WorkerDevice;

/// <summary>The <c>Telemetry</c> section of appsettings.json.</summary>
public sealed class TelemetrySettings
{
    /// <summary>Between two messages.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many messages to send before the program stops; 0 runs until stopped.</summary>
    public int Count { get; set; }

    /// <summary>Export metrics and traces to the console.</summary>
    public bool ConsoleExporter { get; set; }
}

/// <summary>The application: waits for the connected client, sends telemetry, reports the health check. With
/// <c>Telemetry:Count</c> it stops after that many messages and prints one JSON line as its last output.</summary>
internal sealed partial class TelemetryWorker(
    DeviceConnection device,
    HealthCheckService health,
    IOptions<TelemetrySettings> settings,
    IHostApplicationLifetime lifetime,
    ILogger<TelemetryWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var config = settings.Value;
        var sent = 0;
        DeviceClient? client = null;
        try
        {
            while (config.Count == 0 || sent < config.Count)
            {
                // Asked each time: after a reprovisioning the service hands out a new client.
                client = await device.GetClientAsync(stoppingToken);
                var body = Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $$"""{"worker":true,"sequence":{{sent + 1}},"temperature":21.5}"""));
                await client.SendEventAsync(new HubMessage(body) { ContentType = "application/json", ContentEncoding = "utf-8" }, stoppingToken);
                sent++;
                var report = await health.CheckHealthAsync(stoppingToken);
                LogSent(logger, sent, client.HubHostName, report.Status);
                if (config.Count == 0 || sent < config.Count)
                {
                    await Task.Delay(config.Interval, stoppingToken);
                }
            }

            var final = await health.CheckHealthAsync(stoppingToken);
            Summary("sent", client, sent, final.Status.ToString(), error: null);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex) when (ex is ProvisioningException or HubException or ObjectDisposedException)
        {
            var final = await health.CheckHealthAsync(CancellationToken.None);
            Summary("error", client, sent, final.Status.ToString(), ex.Message);
            Environment.ExitCode = 1;
        }

        lifetime.StopApplication();
    }

    private void Summary(string status, DeviceClient? client, int sent, string health, string? error)
    {
        if (settings.Value.Count == 0)
        {
            return;
        }

        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("status", status);
            json.WriteString("assignedHub", client?.HubHostName);
            json.WriteString("deviceId", client?.DeviceId);
            json.WriteString("source", client?.Registration?.IsFromCache == true ? "cache" : "dps");
            json.WriteNumber("messages", sent);
            json.WriteString("health", health);
            json.WriteString("error", error);
            json.WriteEndObject();
        }

        Console.Out.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
        Console.Out.Flush();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "Message {Sequence} acknowledged by {Hub}; health {Health}")]
    private static partial void LogSent(ILogger logger, int sequence, string hub, HealthStatus health);
}

using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Provisioning.Device;
using Provisioning.Device.Hub;
using Provisioning.Device.Tpm;
using WorkerDevice;

// appsettings.json beside the program (a service's working directory is often '/'), then DOTNET_ environment variables,
// then the command line (--DeviceProvisioning:IdScope=0ne… overrides the file).
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });

// The whole provisioning: options bound and validated at start, a hosted service that connects (cache → hub, else DPS),
// DeviceConnection to get the client, and a health check.
builder.Services.AddDeviceProvisioning(builder.Configuration.GetSection("DeviceProvisioning"));
builder.Services.AddHealthChecks().AddDeviceProvisioning();

builder.Services.Configure<TelemetrySettings>(builder.Configuration.GetSection("Telemetry"));
builder.Services.AddHostedService<TelemetryWorker>();

// Metrics and traces of every layer; the console exporter when Telemetry:ConsoleExporter is true.
var console = builder.Configuration.GetValue<bool>("Telemetry:ConsoleExporter");
builder.Services.AddOpenTelemetry()
    .WithMetrics(metrics =>
    {
        metrics.AddMeter(ProvisioningTelemetry.MeterName, HubTelemetry.MeterName, TpmTelemetry.MeterName);
        if (console)
        {
            metrics.AddConsoleExporter();
        }
    })
    .WithTracing(tracing =>
    {
        tracing.AddSource(ProvisioningTelemetry.ActivitySourceName, HubTelemetry.ActivitySourceName, TpmTelemetry.ActivitySourceName);
        if (console)
        {
            tracing.AddConsoleExporter();
        }
    });

await builder.Build().RunAsync();
return Environment.ExitCode;

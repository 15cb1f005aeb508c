using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Provisioning.Device.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds zero-touch device provisioning to a Generic Host (a Worker Service, an ASP.NET Core app).</summary>
public static class DeviceProvisioningServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="DeviceProvisioningOptions"/> from <paramref name="configuration"/> (e.g.
    /// <c>builder.Configuration.GetSection("DeviceProvisioning")</c>), validates them when the host starts, and adds the hosted
    /// service that provisions and connects the device, and <see cref="DeviceConnection"/> to get the connected client.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The configuration section of the options.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <remarks><see cref="Logging.ILoggerFactory"/> and <see cref="TimeProvider"/> come from the container
    /// (<see cref="TimeProvider.System"/> unless one is registered).</remarks>
    public static IServiceCollection AddDeviceProvisioning(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<DeviceProvisioningOptions>().Bind(configuration);
        return AddCore(services);
    }

    /// <summary>As <see cref="AddDeviceProvisioning(IServiceCollection, IConfiguration)"/>, with the options set in code.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddDeviceProvisioning(this IServiceCollection services, Action<DeviceProvisioningOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<DeviceProvisioningOptions>().Configure(configure);
        return AddCore(services);
    }

    /// <summary>Adds the health check of the device's connection: healthy when connected, degraded while provisioning or
    /// reconnecting, unhealthy when provisioning failed or the hub refused the device.</summary>
    /// <param name="builder">The health checks.</param>
    /// <param name="name">The check's name. Default <c>device-provisioning</c>.</param>
    /// <param name="tags">Tags of the check, to filter endpoints.</param>
    /// <returns><paramref name="builder"/>.</returns>
    public static IHealthChecksBuilder AddDeviceProvisioning(this IHealthChecksBuilder builder, string name = "device-provisioning", IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return builder.Add(new HealthCheckRegistration(
            name, sp => new DeviceProvisioningHealthCheck(sp.GetRequiredService<DeviceConnection>()), failureStatus: null, tags));
    }

    private static IServiceCollection AddCore(IServiceCollection services)
    {
        services.AddOptions<DeviceProvisioningOptions>().ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DeviceProvisioningOptions>, DeviceProvisioningOptionsValidator>());
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<DeviceConnection>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, DeviceProvisioningService>());
        return services;
    }
}

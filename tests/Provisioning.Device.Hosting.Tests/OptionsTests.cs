using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Provisioning.Device.Hosting.Tests;

/// <summary>Binding from configuration (by the source-generated binder) and the validation done at start.</summary>
public sealed class OptionsTests
{
    private static DeviceProvisioningOptions Bind(Dictionary<string, string?> values)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(values).Build();
        var services = new ServiceCollection();
        services.AddDeviceProvisioning(configuration.GetSection("DeviceProvisioning"));
        using var provider = services.BuildServiceProvider();

        // What the package registered to bind, applied without the validation (the tests below call it themselves).
        var options = new DeviceProvisioningOptions();
        foreach (var configure in provider.GetServices<IConfigureOptions<DeviceProvisioningOptions>>())
        {
            configure.Configure(options);
        }

        return options;
    }

    private static string[] Failures(DeviceProvisioningOptions options) =>
        new DeviceProvisioningOptionsValidator().Validate(null, options) is { Failed: true } result ? [.. result.Failures!] : [];

    [Fact]
    public void Bind_ReadsEverySetting_IncludingHubAddressesAndTimeSpans()
    {
        var options = Bind(new()
        {
            ["DeviceProvisioning:GlobalEndpoint"] = "https://localhost:5001/",
            ["DeviceProvisioning:IdScope"] = "0ne00000042",
            ["DeviceProvisioning:Transport"] = "MqttWebSockets",
            ["DeviceProvisioning:Attestation:Type"] = "SymmetricKey",
            ["DeviceProvisioning:Attestation:RegistrationId"] = "device-07",
            ["DeviceProvisioning:Attestation:SymmetricKeyEnvironmentVariable"] = "DEVICE_KEY",
            ["DeviceProvisioning:Attestation:IsGroupKey"] = "true",
            ["DeviceProvisioning:HubAddresses:hub1.localhost"] = "127.0.0.1:41000",
            ["DeviceProvisioning:HubUnreachableTimeout"] = "00:00:15",
            ["DeviceProvisioning:MaxAttempts"] = "3",
            ["DeviceProvisioning:RegistrationCachePath"] = "/var/lib/device/registration.json",
        });

        Assert.Equal("https://localhost:5001/", options.GlobalEndpoint);
        Assert.Equal("0ne00000042", options.IdScope);
        Assert.Equal(ProvisioningTransport.MqttWebSockets, options.Transport);
        Assert.Equal(DeviceAttestationType.SymmetricKey, options.Attestation.Type);
        Assert.Equal("device-07", options.Attestation.RegistrationId);
        Assert.Equal("DEVICE_KEY", options.Attestation.SymmetricKeyEnvironmentVariable);
        Assert.True(options.Attestation.IsGroupKey);
        Assert.Equal("127.0.0.1:41000", options.HubAddresses["HUB1.localhost"]);
        Assert.Equal(TimeSpan.FromSeconds(15), options.HubUnreachableTimeout);
        Assert.Equal(3, options.MaxAttempts);
        Assert.Equal("/var/lib/device/registration.json", options.RegistrationCachePath);
    }

    [Fact]
    public void Defaults_AreTheRealServiceAndTheKernelTpm_AndOnlyTheIdScopeIsMissing()
    {
        var options = Bind([]);

        Assert.Equal(ProvisioningDeviceClient.DefaultGlobalEndpoint, options.GlobalEndpoint);
        Assert.Equal(DeviceAttestationType.Tpm, options.Attestation.Type);
        Assert.Equal("device", options.Attestation.Tpm);
        Assert.Null(options.MaxAttempts);
        var failure = Assert.Single(Failures(options));
        Assert.Contains("IdScope is required", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void Validate_TpmOverMqtt_IsRefusedWithTheReason()
    {
        var options = new DeviceProvisioningOptions { IdScope = "0ne1", Transport = ProvisioningTransport.Mqtt };

        Assert.Contains(Failures(options), f => f.Contains("TPM attestation needs Transport Https", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_SymmetricKey_NeedsExactlyOneSource_AndNamesAMissingVariableWithoutAValue()
    {
        var both = new DeviceProvisioningOptions { IdScope = "0ne1" };
        both.Attestation.Type = DeviceAttestationType.SymmetricKey;
        both.Attestation.RegistrationId = "d";
        both.Attestation.SymmetricKeyPath = "/k";
        both.Attestation.SymmetricKeyEnvironmentVariable = "K";
        Assert.Contains(Failures(both), f => f.Contains("exactly one of SymmetricKeyEnvironmentVariable and SymmetricKeyPath", StringComparison.Ordinal));

        var variable = "PROVISIONING_TEST_UNSET_" + Guid.NewGuid().ToString("N");
        var unset = new DeviceProvisioningOptions { IdScope = "0ne1" };
        unset.Attestation.Type = DeviceAttestationType.SymmetricKey;
        unset.Attestation.SymmetricKeyEnvironmentVariable = variable;
        var failures = Failures(unset);
        Assert.Contains(failures, f => f.Contains($"'{variable}' is not set", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("RegistrationId is required", StringComparison.Ordinal));
    }

    [Fact]
    public void Validate_X509AndFiles_NameTheMissingFile_AndBadHubAddressesAndDelays()
    {
        var options = new DeviceProvisioningOptions
        {
            IdScope = "0ne1",
            TrustedRootCertificatesPath = "/nonexistent/ca.pem",
            MinRetryDelay = TimeSpan.FromSeconds(10),
            MaxRetryDelay = TimeSpan.FromSeconds(1),
            MaxAttempts = 0,
            HubUnreachableTimeout = TimeSpan.Zero,
        };
        options.Attestation.Type = DeviceAttestationType.X509;
        options.Attestation.CertificatePath = "/nonexistent/device.pfx";
        options.HubAddresses["hub1.localhost"] = "127.0.0.1";

        var failures = Failures(options);

        Assert.Contains(failures, f => f.Contains("'/nonexistent/device.pfx' does not exist", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("'/nonexistent/ca.pem' does not exist", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("HubAddresses:hub1.localhost must be host:port", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MinRetryDelay", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("MaxAttempts", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.Contains("HubUnreachableTimeout", StringComparison.Ordinal));
        Assert.All(failures, f => Assert.StartsWith("DeviceProvisioning: ", f, StringComparison.Ordinal));
    }

    [Fact]
    public async Task HostStart_WithInvalidOptions_FailsAtStartWithTheMessages()
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddDeviceProvisioning(o => o.Attestation.Type = DeviceAttestationType.SymmetricKey);
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync(TestContext.Current.CancellationToken));

        Assert.Contains(error.Failures, f => f.Contains("IdScope is required", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("RegistrationId is required", StringComparison.Ordinal));
    }
}

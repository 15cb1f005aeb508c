using System.Globalization;
using Microsoft.Extensions.Options;

namespace Provisioning.Device.Hosting;

/// <summary>Checks <see cref="DeviceProvisioningOptions"/> at start (<c>ValidateOnStart</c>): every problem is named with its
/// configuration key and what to do; a secret's value is never part of a message.</summary>
internal sealed class DeviceProvisioningOptionsValidator : IValidateOptions<DeviceProvisioningOptions>
{
    public ValidateOptionsResult Validate(string? name, DeviceProvisioningOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.IdScope))
        {
            failures.Add("IdScope is required: the ID scope on the DPS overview page (e.g. 0ne00000001).");
        }

        if (string.IsNullOrWhiteSpace(options.GlobalEndpoint))
        {
            failures.Add("GlobalEndpoint is empty: use global.azure-devices-provisioning.net, or the emulator's endpoint.");
        }

        if (!Enum.IsDefined(options.Transport))
        {
            failures.Add("Transport must be Https, Mqtt or MqttWebSockets.");
        }

        var attestation = options.Attestation;
        if (attestation is null)
        {
            failures.Add("Attestation is missing.");
        }
        else
        {
            ValidateAttestation(attestation, options.Transport, failures);
        }

        if (options.TrustedRootCertificatesPath is { } roots && !File.Exists(roots))
        {
            failures.Add($"TrustedRootCertificatesPath: the file '{roots}' does not exist.");
        }

        foreach (var (host, address) in options.HubAddresses)
        {
            var colon = address?.LastIndexOf(':') ?? -1;
            if (string.IsNullOrWhiteSpace(host) || colon <= 0 || !int.TryParse(address.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port is < 1 or > 65535)
            {
                failures.Add($"HubAddresses:{host} must be host:port (e.g. 127.0.0.1:8883), not '{address}'.");
            }
        }

        if (options.HubUnreachableTimeout <= TimeSpan.Zero)
        {
            failures.Add("HubUnreachableTimeout must be positive.");
        }

        if (options.MinRetryDelay < TimeSpan.Zero || options.MaxRetryDelay < options.MinRetryDelay || options.MaxRetryDelay > TimeSpan.FromDays(1))
        {
            failures.Add("MinRetryDelay and MaxRetryDelay: 0 ≤ MinRetryDelay ≤ MaxRetryDelay ≤ 1 day.");
        }

        if (options.MaxAttempts is < 1)
        {
            failures.Add("MaxAttempts must be at least 1, or unset to keep trying.");
        }

        return failures.Count == 0
            ? ValidateOptionsResult.Success
            : ValidateOptionsResult.Fail(failures.Select(f => "DeviceProvisioning: " + f));
    }

    private static void ValidateAttestation(DeviceAttestationOptions attestation, ProvisioningTransport transport, List<string> failures)
    {
        switch (attestation.Type)
        {
            case DeviceAttestationType.Tpm:
                if (string.IsNullOrWhiteSpace(attestation.Tpm))
                {
                    failures.Add("Attestation:Tpm is empty: device, device:<path>, swtpm:<host>:<port>, unix:<path>, mssim:<host>:<port> or software[:<dir>].");
                }

                if (transport != ProvisioningTransport.Https)
                {
                    failures.Add("TPM attestation needs Transport Https: DPS has no TPM challenge over MQTT.");
                }

                break;

            case DeviceAttestationType.SymmetricKey:
                if (string.IsNullOrWhiteSpace(attestation.RegistrationId))
                {
                    failures.Add("Attestation:RegistrationId is required for symmetric key attestation.");
                }

                var fromVariable = !string.IsNullOrWhiteSpace(attestation.SymmetricKeyEnvironmentVariable);
                var fromFile = !string.IsNullOrWhiteSpace(attestation.SymmetricKeyPath);
                if (fromVariable == fromFile)
                {
                    failures.Add("Attestation: set exactly one of SymmetricKeyEnvironmentVariable and SymmetricKeyPath (the key itself never goes in configuration).");
                }
                else if (fromVariable && string.IsNullOrEmpty(Environment.GetEnvironmentVariable(attestation.SymmetricKeyEnvironmentVariable!)))
                {
                    failures.Add($"Attestation:SymmetricKeyEnvironmentVariable: the environment variable '{attestation.SymmetricKeyEnvironmentVariable}' is not set.");
                }
                else if (fromFile && !File.Exists(attestation.SymmetricKeyPath))
                {
                    failures.Add($"Attestation:SymmetricKeyPath: the file '{attestation.SymmetricKeyPath}' does not exist.");
                }

                break;

            case DeviceAttestationType.X509:
                if (string.IsNullOrWhiteSpace(attestation.CertificatePath))
                {
                    failures.Add("Attestation:CertificatePath is required for X.509 attestation (a PFX, or a PEM with its key).");
                }
                else if (!File.Exists(attestation.CertificatePath))
                {
                    failures.Add($"Attestation:CertificatePath: the file '{attestation.CertificatePath}' does not exist.");
                }

                if (attestation.CertificateKeyPath is { } key && !File.Exists(key))
                {
                    failures.Add($"Attestation:CertificateKeyPath: the file '{key}' does not exist.");
                }

                break;

            default:
                failures.Add("Attestation:Type must be Tpm, SymmetricKey or X509.");
                break;
        }
    }
}

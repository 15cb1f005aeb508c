namespace Provisioning.Device.Hosting;

/// <summary>
/// The settings of <c>services.AddDeviceProvisioning(configuration)</c>,
/// bound from configuration (e.g. the <c>DeviceProvisioning</c> section of <c>appsettings.json</c>) and validated at start.
/// </summary>
/// <remarks>No secret is ever held here: a symmetric key is read from a file or an environment variable, a certificate's
/// password from an environment variable, and only when the attestation is created.</remarks>
public sealed class DeviceProvisioningOptions
{
    /// <summary>The DPS global endpoint: a host name, <c>host:port</c>, or an <c>https://</c>, <c>mqtts://</c> or <c>wss://</c> URI
    /// (see <see cref="ProvisioningDeviceClient"/>). Default <see cref="ProvisioningDeviceClient.DefaultGlobalEndpoint"/>.</summary>
    public string GlobalEndpoint { get; set; } = ProvisioningDeviceClient.DefaultGlobalEndpoint;

    /// <summary>The DPS ID scope, e.g. <c>0ne00000001</c>. Required.</summary>
    public string? IdScope { get; set; }

    /// <summary>The protocol to DPS. Default <see cref="ProvisioningTransport.Https"/> (the only one TPM attestation supports).</summary>
    public ProvisioningTransport Transport { get; set; } = ProvisioningTransport.Https;

    /// <summary>How the device proves its identity, and where its secret comes from.</summary>
    public DeviceAttestationOptions Attestation { get; set; } = new();

    /// <summary>The file that keeps the last assignment, so a reboot goes straight to its hub; none when unset (every start
    /// asks DPS).</summary>
    public string? RegistrationCachePath { get; set; }

    /// <summary>A PEM file of root certificates trusted in addition to the system store, for DPS and the hub (for example the
    /// emulator's <c>ca.pem</c>). TLS validation stays on.</summary>
    public string? TrustedRootCertificatesPath { get; set; }

    /// <summary>Hub host name → the <c>host:port</c> dialled (TLS still checks the hub's name); for the emulator's hubs.</summary>
    public Dictionary<string, string> HubAddresses { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>JSON sent with the registration (seen by custom allocation). Default none.</summary>
    public string? RegistrationPayload { get; set; }

    /// <summary>How long the assigned hub may stay unreachable before the device goes back to DPS. Default 60 s.</summary>
    public TimeSpan HubUnreachableTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The first wait between rounds after a failure; it doubles, with jitter, up to <see cref="MaxRetryDelay"/>.
    /// Default 1 s.</summary>
    public TimeSpan MinRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between rounds. Default 5 minutes.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>How many rounds to try before the service gives up and reports the error, or <see langword="null"/> to keep
    /// trying until the host stops (the default: a device in the field keeps trying).</summary>
    public int? MaxAttempts { get; set; }

    /// <summary>An IoT Plug and Play model id (<c>dtmi:…</c>) announced to the hub. Default none.</summary>
    public string? ModelId { get; set; }
}

/// <summary>The kinds of attestation.</summary>
public enum DeviceAttestationType
{
    /// <summary>The device's TPM 2.0 (<see cref="DeviceAttestationOptions.Tpm"/>).</summary>
    Tpm,

    /// <summary>A symmetric key, individual or derived from an enrollment group key.</summary>
    SymmetricKey,

    /// <summary>An X.509 client certificate.</summary>
    X509,
}

/// <summary>How the device proves its identity and where its secret comes from.</summary>
public sealed class DeviceAttestationOptions
{
    /// <summary>The kind of attestation. Default <see cref="DeviceAttestationType.Tpm"/>.</summary>
    public DeviceAttestationType Type { get; set; } = DeviceAttestationType.Tpm;

    /// <summary>The registration id. Required for symmetric key; for TPM it is derived from the EK and for X.509 it is the
    /// certificate's common name when unset.</summary>
    public string? RegistrationId { get; set; }

    /// <summary>The TPM, as a transport spec: <c>device</c> (default), <c>device:&lt;path&gt;</c>, <c>swtpm:&lt;host&gt;:&lt;port&gt;</c>,
    /// <c>unix:&lt;path&gt;</c>, <c>mssim:&lt;host&gt;:&lt;port&gt;</c> or <c>software[:&lt;dir&gt;]</c> (development only).</summary>
    public string Tpm { get; set; } = "device";

    /// <summary>The environment variable holding the base64 symmetric key.</summary>
    public string? SymmetricKeyEnvironmentVariable { get; set; }

    /// <summary>The file holding the base64 symmetric key (readable by the service's user only).</summary>
    public string? SymmetricKeyPath { get; set; }

    /// <summary>The key is an enrollment group's: the device key is derived from it and the registration id.</summary>
    public bool IsGroupKey { get; set; }

    /// <summary>The device certificate: a PFX/PKCS#12 file, or a PEM file (with the key in it or in <see cref="CertificateKeyPath"/>);
    /// further certificates in a PEM file are sent as the chain.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="CertificatePath"/>, when it is not in the certificate file.</summary>
    public string? CertificateKeyPath { get; set; }

    /// <summary>The environment variable holding the PFX password, if the file has one.</summary>
    public string? CertificatePasswordEnvironmentVariable { get; set; }
}

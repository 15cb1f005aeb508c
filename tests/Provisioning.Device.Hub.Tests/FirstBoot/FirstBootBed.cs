using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Provisioning.Emulator;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Device.Hub.Tests.FirstBoot;

/// <summary>The DPS emulator in-process (in memory, <c>Retry-After: 0</c>) with its linked hubs, and the first-boot flow a device
/// runs against it: register, hand off to <see cref="DeviceClient.Create"/>, send the first telemetry.</summary>
public sealed class FirstBootBed : IAsyncDisposable
{
    private FirstBootBed(DpsEmulator dps) => Dps = dps;

    public DpsEmulator Dps { get; }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static async Task<FirstBootBed> StartAsync(int hubs = 1, bool webSockets = false, Action<DpsEmulatorOptions>? configure = null)
    {
        var options = new DpsEmulatorOptions { RetryAfter = TimeSpan.Zero, HubWebSockets = webSockets };
        configure?.Invoke(options);
        for (var i = 1; i <= hubs; i++)
        {
            options.Hubs.Add(new LinkedHub($"hub{i}.firstboot.localhost"));
        }

        return new FirstBootBed(await DpsEmulator.StartAsync(options, Ct));
    }

    public ProvisioningDeviceClient Provisioning(ProvisioningAttestation attestation)
    {
        var options = new ProvisioningClientOptions();
        options.TrustedRootCertificates.Add(Dps.CertificateAuthority.Certificate);
        return new ProvisioningDeviceClient(Dps.GlobalEndpoint.ToString(), Dps.IdScope, attestation, options);
    }

    /// <summary>Client options as a device on this machine sets them: the hubs' real addresses and the emulator's CA.</summary>
    public DeviceClientOptions HubOptions(Action<DeviceClientOptions>? configure = null)
    {
        var options = new DeviceClientOptions
        {
            MinReconnectDelay = TimeSpan.FromMilliseconds(50),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(300),
        };
        foreach (var (hostName, address) in Dps.HubAddresses)
        {
            options.HubAddresses[hostName] = address;
        }

        options.TrustedRootCertificates.Add(Dps.CertificateAuthority.Certificate);
        configure?.Invoke(options);
        return options;
    }

    public async Task<DeviceRegistrationResult> RegisterAsync(ProvisioningAttestation attestation)
    {
        using var provisioning = Provisioning(attestation);
        var result = await provisioning.RegisterAsync(Ct);
        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        return result;
    }

    /// <summary>First boot: registers, connects with <see cref="DeviceClient.Create"/>, sends one message and returns what the
    /// assigned hub received.</summary>
    public async Task<(DeviceRegistrationResult Result, HubTelemetryMessage Received)> FirstBootAsync(ProvisioningAttestation attestation,
        Action<DeviceClientOptions>? configure = null)
    {
        var result = await RegisterAsync(attestation);
        await using var client = DeviceClient.Create(result, attestation, HubOptions(configure));
        await client.OpenAsync(Ct);
        var received = await SendAndReceiveAsync(client);
        return (result, received);
    }

    public async Task<HubTelemetryMessage> SendAndReceiveAsync(DeviceClient client)
    {
        var body = Encoding.UTF8.GetBytes($"{{\"firstBoot\":\"{client.DeviceId}\"}}");
        var message = new HubMessage(body) { MessageId = Guid.NewGuid().ToString(), ContentType = "application/json", ContentEncoding = "utf-8" };
        message.Properties["boot"] = "1";
        await client.SendEventAsync(message, Ct);

        using var guard = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        guard.CancelAfter(TimeSpan.FromSeconds(30)); // a hang guard, not a timed assertion
        var received = await Dps.GetHub(client.HubHostName).ReadTelemetryAsync(client.DeviceId, guard.Token);
        Assert.Equal(body, received.Body.ToArray());
        Assert.Equal(message.MessageId, received.MessageId);
        Assert.Equal("application/json", received.ContentType);
        Assert.Equal("1", received.Properties["boot"]);
        return received;
    }

    public async Task<HubDevice> HubDeviceAsync(DeviceRegistrationResult result) =>
        await Dps.HubRegistry.FindAsync(result.AssignedHub!, result.DeviceId!, Ct) ?? throw new InvalidOperationException("not in the hub registry");

    /// <summary>What the hub computes for a device SAS with this key: proves the attestation signs with the registry's key.</summary>
    public static async Task AssertSignsWithAsync(ProvisioningAttestation attestation, DeviceRegistrationResult result, byte[] key)
    {
        var resource = $"{result.AssignedHub}/devices/{Uri.EscapeDataString(result.DeviceId!)}";
        var token = await attestation.CreateSasTokenAsync(resource, DateTimeOffset.UtcNow.AddHours(1), keyName: null, Ct);
        var fields = token["SharedAccessSignature ".Length..].Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
        Assert.Equal(Uri.EscapeDataString(resource), fields["sr"]);
        Assert.False(fields.ContainsKey("skn"));
        var expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{fields["sr"]}\n{fields["se"]}"));
        Assert.Equal(Convert.ToBase64String(expected), Uri.UnescapeDataString(fields["sig"]));
    }

    public ValueTask DisposeAsync() => Dps.DisposeAsync();
}

/// <summary>Device certificates for X.509 attestation: a root, an intermediate and leaves whose CN is the registration id.</summary>
internal static class DeviceCertificates
{
    public static X509Certificate2 Authority(string name, X509Certificate2? issuer = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        if (issuer is null)
        {
            return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        using var issued = request.Create(issuer, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMonths(6), RandomNumberGenerator.GetBytes(12));
        return issued.CopyWithPrivateKey(key);
    }

    public static X509Certificate2 Leaf(X509Certificate2 issuer, string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=" + commonName, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        using var issued = request.Create(issuer, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddMonths(3), RandomNumberGenerator.GetBytes(12));
        using var withKey = issued.CopyWithPrivateKey(key);
        // A PKCS#12 round trip gives SslStream a key it can use as a client credential on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    public static string Sha256Thumbprint(X509Certificate2 certificate) => Convert.ToHexString(certificate.GetCertHash(HashAlgorithmName.SHA256));
}

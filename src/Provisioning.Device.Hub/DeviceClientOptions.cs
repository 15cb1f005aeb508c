using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Provisioning.Device.Hub;

/// <summary>Options of a <see cref="DeviceClient"/>. Defaults follow dps-protocol.md §8.</summary>
public sealed class DeviceClientOptions
{
    /// <summary>TLS (8883) or WebSockets (443).</summary>
    public HubTransport Transport { get; set; } = HubTransport.Mqtt;

    /// <summary>A proxy for <see cref="HubTransport.MqttWebSocket"/>.</summary>
    public IWebProxy? Proxy { get; set; }

    /// <summary>Maps a hub host name to the <c>host:port</c> actually dialled (the TLS name stays the hub host name).
    /// Used by the emulator, whose hubs listen on 127.0.0.1:port.</summary>
    public IDictionary<string, string> HubAddresses { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// Root certificates trusted for the hub's TLS certificate in addition to the system store (for example the emulator's CA).
    /// Validation stays on: the server chain must end at a system root or one of these, carry the serverAuth extended key
    /// usage and match the hub host name. The same meaning as <see cref="ProvisioningClientOptions.TrustedRootCertificates"/>.
    /// </summary>
    public X509Certificate2Collection TrustedRootCertificates { get; } = [];

    /// <summary>How long each SAS token lives. Default 1 hour.</summary>
    public TimeSpan SasTokenLifetime { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The share of the lifetime left when the token is renewed (reconnecting with a fresh one). Default 15 %.</summary>
    public double RenewalThreshold { get; set; } = 0.15;

    /// <summary>With a certificate DPS issued (<see cref="HubAuthentication.FromIssuedCertificate(DeviceRegistrationResult)"/>): the share of the
    /// certificate's lifetime left when the client asks its hub for a new one (<c>$iothub/credentials</c>, dps-protocol.md §9)
    /// and reconnects with it. Default 15 %, like SAS renewal.</summary>
    public double CertificateRenewalThreshold { get; set; } = 0.15;

    /// <summary>Renew the issued certificate with a new key rather than the same key. Default false. The new key is created
    /// beside the current one (a TPM key at <see cref="TpmCertificateKey.AlternateHandle"/>, a key file at
    /// <see cref="SoftwareCertificateKey.AlternatePath"/>); the current key is retired (evicted, or its file deleted) only once
    /// the new certificate is received, checked and stored, so a renewal that fails at any point leaves the current key and
    /// certificate working.</summary>
    public bool RenewCertificateWithNewKey { get; set; }

    /// <summary>Called after the hub issued a new certificate, with the new chain (base64 DER, leaf first) and its key, before
    /// the connection is swapped and before a replaced key is retired: store them so the next boot uses them (a client made by
    /// <see cref="DeviceConnector"/> also stores them in the registration cache). An exception aborts the swap: the current
    /// certificate stays and the renewal is tried again.</summary>
    public Func<IReadOnlyList<string>, CertificateSigningKey, CancellationToken, ValueTask>? CertificateRenewed { get; set; }

    /// <summary>MQTT keep-alive. Default 300 s (the C# SDK's).</summary>
    public TimeSpan KeepAlive { get; set; } = TimeSpan.FromSeconds(300);

    /// <summary>How long a connect, a twin request or the drain before a renewal may take. Default 30 s.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The first reconnect delay; it doubles per failed attempt up to <see cref="MaxReconnectDelay"/>, with jitter.</summary>
    public TimeSpan MinReconnectDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest reconnect delay.</summary>
    public TimeSpan MaxReconnectDelay { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>Returns a number in [0, 1) for jitter; injectable for tests. Default <see cref="Random.Shared"/>.</summary>
    public Func<double> Jitter { get; set; } = Random.Shared.NextDouble;

    /// <summary>The clock for token expiry, renewal and backoff.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>How many cloud-to-device messages, desired-property patches and direct-method requests may each wait for their
    /// handler. Beyond it a method request is answered 503, a message is left unacknowledged (the hub delivers it again) and the
    /// oldest waiting patch gives way to the newest (the whole desired document is then fetched again, so no value is lost).
    /// Default 64.</summary>
    public int ReceiveQueueCapacity { get; set; } = 64;

    /// <summary>The largest telemetry payload sent (IoT Hub: 256 KB); larger ones throw <see cref="ArgumentException"/>.</summary>
    public int MaxMessageBytes { get; set; } = 256 * 1024;

    /// <summary>The product name sent as <c>DeviceClientType</c>.</summary>
    public string ProductInfo { get; set; } = "Provisioning.Device.Hub/0.1.0";

    /// <summary>An IoT Plug and Play model id (<c>dtmi:…</c>), sent in the username when set.</summary>
    public string? ModelId { get; set; }

    /// <summary>Called once when the hub refuses the device (unauthorized, unknown or disabled); the client is then
    /// <see cref="ConnectionState.Refused"/>. It has finished before <see cref="DeviceClient.OpenAsync"/> (or an operation waiting
    /// for a connection) fails with the refusal (<see cref="HubException.Refusal"/>). <see cref="DeviceConnector"/> goes back to
    /// DPS by itself; this hook is for applications that run their own loop.</summary>
    public Func<HubRefusal, CancellationToken, ValueTask>? ReprovisionRequired { get; set; }

    /// <summary>Logging; silent when null.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(SasTokenLifetime, TimeSpan.FromSeconds(10), nameof(SasTokenLifetime));
        if (CertificateRenewalThreshold is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(CertificateRenewalThreshold), "The certificate renewal threshold is a share of the lifetime, in (0, 1).");
        }

        if (RenewalThreshold is <= 0 or >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(RenewalThreshold), "The renewal threshold is a share of the lifetime, in (0, 1).");
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(OperationTimeout, TimeSpan.Zero, nameof(OperationTimeout));
        ArgumentOutOfRangeException.ThrowIfLessThan(KeepAlive, TimeSpan.FromSeconds(1), nameof(KeepAlive));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(KeepAlive, TimeSpan.FromSeconds(ushort.MaxValue), nameof(KeepAlive));
        ArgumentOutOfRangeException.ThrowIfLessThan(MinReconnectDelay, TimeSpan.Zero, nameof(MinReconnectDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxReconnectDelay, MinReconnectDelay, nameof(MaxReconnectDelay));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageBytes, 1, nameof(MaxMessageBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(ReceiveQueueCapacity, 1, nameof(ReceiveQueueCapacity));
        ArgumentNullException.ThrowIfNull(Jitter);
        ArgumentNullException.ThrowIfNull(TimeProvider);
        ArgumentException.ThrowIfNullOrEmpty(ProductInfo);
    }
}

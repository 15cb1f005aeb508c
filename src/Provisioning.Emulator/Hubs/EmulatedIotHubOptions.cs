using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;

namespace Provisioning.Emulator.Hubs;

/// <summary>How to run one emulated IoT hub.</summary>
public sealed class EmulatedIotHubOptions
{
    /// <summary>The hub host name devices are assigned to (and the name the server certificate carries).</summary>
    public required string HubHostName { get; init; }

    /// <summary>The TLS server certificate, with its private key, naming <see cref="HubHostName"/>.</summary>
    public required X509Certificate2 ServerCertificate { get; init; }

    /// <summary>The device registry the hub authenticates against.</summary>
    public required IHubDeviceRegistry Registry { get; init; }

    /// <summary>The address to listen on; loopback by default.</summary>
    public IPAddress BindAddress { get; init; } = IPAddress.Loopback;

    /// <summary>The TCP port; 0 picks a free one.</summary>
    public int Port { get; init; }

    /// <summary>The clock for token expiry.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>How long past its <c>se</c> a device SAS token is still accepted (clocks on devices drift); one minute, as for
    /// DPS (<see cref="DpsEmulatorOptions.ClockSkew"/>).</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromMinutes(1);

    /// <summary>The largest device-to-cloud payload accepted (IoT Hub: 256 KB); a larger one closes the connection.</summary>
    public int MaxMessageBytes { get; init; } = 256 * 1024;

    /// <summary>How many cloud-to-device messages a device's queue holds, queued or awaiting the device's acknowledgement;
    /// 50, IoT Hub's limit. One more is refused (<see cref="HubCloudToDeviceException"/>, 403004).</summary>
    public int CloudToDeviceQueueDepth { get; init; } = 50;

    /// <summary>How long a cloud-to-device message waits for the device's acknowledgement when it sets no
    /// <see cref="HubCloudMessage.TimeToLive"/>; one hour, IoT Hub's default (at most <see cref="MaxCloudToDeviceTimeToLive"/>).</summary>
    public TimeSpan CloudToDeviceTimeToLive { get; init; } = TimeSpan.FromHours(1);

    /// <summary>The longest time to live a cloud-to-device message may have: two days, IoT Hub's limit.</summary>
    public static readonly TimeSpan MaxCloudToDeviceTimeToLive = TimeSpan.FromDays(2);

    /// <summary>How long a client has to complete its TLS handshake before its socket is dropped: 10 s.</summary>
    public TimeSpan TlsHandshakeTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest MQTT packet (remaining length) a client may send before its CONNECT is accepted: 4 KB, enough
    /// for any CONNECT of a device (its user name and SAS token are a few hundred bytes).</summary>
    public const int MaxPacketBytesBeforeAuthentication = 4 * 1024;

    /// <summary>The largest MQTT packet an authenticated device may send: <see cref="MaxMessageBytes"/> plus 16 KB for the
    /// topic and its properties. A larger one ends the connection at its header.</summary>
    public int MaxPacketBytes => MaxMessageBytes + (16 * 1024);

    /// <summary>Logging; silent when null.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    /// <summary>The certificate authorities devices of kind <see cref="HubCredentialKind.CertificateAuthority"/> must chain to
    /// (DPS's linked hubs: the emulator's CA, which issues the certificates of DPS certificate issuance and renewal). None: such
    /// devices are refused.</summary>
    public X509Certificate2Collection DeviceCertificateAuthorities { get; init; } = [];

    /// <summary>Issues a certificate (DER chain, leaf first) for a device's renewal request (<c>$iothub/credentials</c>);
    /// null for a hub without a certificate authority. DPS's linked hubs use the emulator's CA.</summary>
    internal Func<System.Security.Cryptography.X509Certificates.CertificateRequest, IReadOnlyList<byte[]>>? CertificateIssuer { get; init; }

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(HubHostName);
        ArgumentNullException.ThrowIfNull(ServerCertificate);
        ArgumentNullException.ThrowIfNull(Registry);
        ArgumentOutOfRangeException.ThrowIfNegative(Port);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ClockSkew, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(TlsHandshakeTimeout, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxMessageBytes, 64 * 1024 * 1024);
        ArgumentOutOfRangeException.ThrowIfLessThan(CloudToDeviceQueueDepth, 1);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(CloudToDeviceTimeToLive, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(CloudToDeviceTimeToLive, MaxCloudToDeviceTimeToLive);
        if (!ServerCertificate.HasPrivateKey)
        {
            throw new ArgumentException("The server certificate needs its private key.", nameof(ServerCertificate));
        }
    }
}

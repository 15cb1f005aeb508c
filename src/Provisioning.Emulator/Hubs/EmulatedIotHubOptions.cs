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

    /// <summary>Logging; silent when null.</summary>
    public ILoggerFactory? LoggerFactory { get; init; }

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrEmpty(HubHostName);
        ArgumentNullException.ThrowIfNull(ServerCertificate);
        ArgumentNullException.ThrowIfNull(Registry);
        ArgumentOutOfRangeException.ThrowIfNegative(Port);
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxMessageBytes, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(ClockSkew, TimeSpan.Zero);
        if (!ServerCertificate.HasPrivateKey)
        {
            throw new ArgumentException("The server certificate needs its private key.", nameof(ServerCertificate));
        }
    }
}

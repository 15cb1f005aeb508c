using Microsoft.Extensions.Logging;

using Provisioning.Emulator.Faults;
using Provisioning.Emulator.Tpm;

namespace Provisioning.Emulator;

/// <summary>How to start a <see cref="DpsEmulator"/>.</summary>
public sealed class DpsEmulatorOptions
{
    /// <summary>The largest request body the device and service APIs accept (96 KB).</summary>
    public const int MaxRequestBodyBytes = 96 * 1024;

    /// <summary>The HTTPS port; 0 lets the OS choose.</summary>
    public int Port { get; set; }

    /// <summary>The port of DPS over MQTT (TLS, dps-protocol.md §5); 0 lets the OS choose; null turns it off.</summary>
    public int? MqttPort { get; set; } = 0;

    /// <summary>The port of DPS over MQTT over WebSockets (<c>wss</c>); 0 lets the OS choose; null turns it off.</summary>
    public int? WebSocketPort { get; set; } = 0;

    /// <summary>The port of the operator's portal (HTTPS, same CA, opened with a token: <see cref="DpsEmulator.PortalUrl"/>);
    /// 0 lets the OS choose; null (the default in-process) turns it off.</summary>
    public int? PortalPort { get; set; }

    /// <summary>Where the portal listens: loopback by default. Anything else exposes enrollment control to that network
    /// (the access token still guards it).</summary>
    public System.Net.IPAddress PortalAddress { get; set; } = System.Net.IPAddress.Loopback;
    /// <summary>The port of DPS over AMQP (TLS, dps-protocol.md §6); 0 lets the OS choose; null turns it off.</summary>
    public int? AmqpPort { get; set; } = 0;

    /// <summary>The port of DPS over AMQP over WebSockets (<c>wss</c>, subprotocol <c>AMQPWSB10</c>); 0 lets the OS choose; null turns it off.</summary>
    public int? AmqpWebSocketPort { get; set; } = 0;

    /// <summary>The host name in the global endpoint, the server certificate and the service connection string.</summary>
    public string HostName { get; set; } = "localhost";

    /// <summary>Where the CA, the SQLite database and <c>emulator.json</c> live; null keeps everything in memory.</summary>
    public string? DataDirectory { get; set; }

    /// <summary>The ID scope; null uses the persisted one or makes a new one (<c>0ne</c> + 8 hex digits).</summary>
    public string? IdScope { get; set; }

    /// <summary>The linked hubs; when empty one hub, <c>hub1.localhost</c>, is linked.</summary>
    public IList<LinkedHub> Hubs { get; } = [];

    /// <summary>Whether each linked hub also serves MQTT over secure WebSockets (<see cref="LinkedHub.WebSocketAddress"/>);
    /// off by default (it costs a small web server per hub).</summary>
    public bool HubWebSockets { get; set; }

    /// <summary>The <c>Retry-After</c> sent with 202 <c>assigning</c>: 3 s like the real service; 0 for fast tests.</summary>
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How long each registration stays <c>assigning</c> after its PUT: status polls answer 202 <c>assigning</c> with
    /// <see cref="RetryAfter"/> until then (the still-assigning path of a client). Zero (default) answers the first poll.
    /// </summary>
    public TimeSpan AssignmentDelay { get; set; }

    /// <summary>How long a client has to complete its TLS handshake, on every port (HTTPS, DPS MQTT and WebSockets, the hubs),
    /// before its socket is dropped: 10 s.</summary>
    public TimeSpan TlsHandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest MQTT packet (remaining length) a client may send on the DPS MQTT endpoint before its CONNECT is
    /// accepted: 4 KB, enough for any device's CONNECT. A larger one ends the connection at its header.</summary>
    public const int MaxMqttPacketBytesBeforeAuthentication = 4 * 1024;

    /// <summary>The largest MQTT packet an authenticated device may send on the DPS MQTT endpoint: the 96 KB body limit plus
    /// 4 KB for the topic.</summary>
    public const int MaxMqttPacketBytes = MaxRequestBodyBytes + (4 * 1024);

    /// <summary>The allowed clock skew when checking a SAS token's expiry, at DPS and at the linked hubs.</summary>
    public TimeSpan ClockSkew { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>The service side of TPM attestation (dps-protocol.md §2.3): by default the real <see cref="Tpm.TpmCredentialIssuer"/>;
    /// tests may put a fake here; null refuses TPM registrations with a 400.</summary>
    public ITpmCredentialIssuer? TpmCredentialIssuer { get; set; } = new TpmCredentialIssuer();

    /// <summary>The service API key (base64) of <c>provisioningserviceowner</c>; null uses the persisted one or a new one.</summary>
    public string? ServiceKey { get; set; }

    /// <summary>Faults injected from the start (more can be added through <see cref="DpsEmulator.Faults"/>).</summary>
    public IList<FaultRule> Faults { get; } = [];

    /// <summary>The per-unit registration limit per minute (the real service allows 1,000); null turns throttling off.</summary>
    public int? RegistrationsPerMinute { get; set; }

    /// <summary>
    /// The device region for <c>geoLatency</c> allocation when the request has no <c>x-emulator-device-region</c> header.
    /// </summary>
    public string? DefaultDeviceRegion { get; set; }

    /// <summary>
    /// A seed file applied on start: <c>{"hubs":[{"hostName","region"}],"enrollments":[…],"enrollmentGroups":[…]}</c>,
    /// enrollments in the service API shape (api-version 2021-10-01). Its hubs are linked in addition to <see cref="Hubs"/>.
    /// </summary>
    public string? SeedFile { get; set; }

    /// <summary>The handler used to call custom allocation webhooks; null uses a default one.</summary>
    public HttpMessageHandler? WebhookHandler { get; set; }

    /// <summary>The clock for SAS expiry, timestamps and throttling.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>Where the emulator logs; quiet when null.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>How long a certificate issued for a device's CSR (and renewed by a hub) is valid. Default 30 days; make it
    /// seconds to test renewal.</summary>
    public TimeSpan IssuedCertificateValidity { get; set; } = TimeSpan.FromDays(30);

    internal void Validate()
    {
        if (IssuedCertificateValidity <= TimeSpan.Zero || IssuedCertificateValidity > TimeSpan.FromDays(3650))
        {
            throw new ArgumentOutOfRangeException(nameof(IssuedCertificateValidity), IssuedCertificateValidity, "The issued certificate validity is more than zero and at most ten years.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(Port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Port, 65535);
        if (MqttPort is < 0 or > 65535 || WebSocketPort is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(MqttPort), "The MQTT and WebSocket ports are 0–65535 (or null for off).");
        }

        if (PortalPort is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(PortalPort), "The portal port is 0–65535 (or null for off).");
        }

        ArgumentNullException.ThrowIfNull(PortalAddress);

        if (AmqpPort is < 0 or > 65535 || AmqpWebSocketPort is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(AmqpPort), "The AMQP and AMQP WebSocket ports are 0–65535 (or null for off).");
        }

        ArgumentException.ThrowIfNullOrWhiteSpace(HostName);
        ArgumentOutOfRangeException.ThrowIfLessThan(RetryAfter, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(ClockSkew, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThan(AssignmentDelay, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(TlsHandshakeTimeout, TimeSpan.Zero);
        ArgumentNullException.ThrowIfNull(TimeProvider);
        if (RegistrationsPerMinute is <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(RegistrationsPerMinute), "The limit must be positive (or null for none).");
        }

        if (IdScope is { } scope && (scope.Length is 0 or > 64 || !scope.All(char.IsAsciiLetterOrDigit)))
        {
            throw new ArgumentException("An ID scope is 1–64 ASCII letters and digits.", nameof(IdScope));
        }
    }
}

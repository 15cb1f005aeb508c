using System.Net;
using System.Security.Cryptography.X509Certificates;

using Microsoft.Extensions.Logging;

namespace Provisioning.Device;

/// <summary>Settings of a <see cref="ProvisioningDeviceClient"/>. Plain values, validated when the client is built.</summary>
public sealed class ProvisioningClientOptions
{
    /// <summary>The api-version sent by default (dps-protocol.md §1.1).</summary>
    public const string DefaultApiVersion = "2019-03-31";

    /// <summary>The first api-version with certificate issuance (<c>csr</c> in, <c>issuedCertificateChain</c> out; dps-protocol.md §9).</summary>
    public const string CertificateIssuanceApiVersion = "2025-07-01-preview";

    /// <summary>
    /// The roots an issued certificate chain (<see cref="ProvisioningRegistrationRequest.CertificateSigningKey"/>) must lead
    /// to. When empty, the chain must end with a self-signed root, which is then trusted as the service sent it (over the
    /// server-authenticated TLS connection).
    /// </summary>
    public X509Certificate2Collection IssuedCertificateTrustedRoots { get; } = [];

    /// <summary>The clock for retries, polling, deadlines and SAS expiry. Default <see cref="TimeProvider.System"/>.</summary>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>The WebSocket path used by <see cref="ProvisioningTransport.MqttWebSockets"/> unless set otherwise.</summary>
    /// <remarks>The C SDK's path; the official C# SDK sends <c>/</c>, which DPS also accepts (dps-protocol.md §5).</remarks>
    public const string DefaultWebSocketPath = "/$iothub/websocket";

    /// <summary>The wire protocol. Default <see cref="ProvisioningTransport.Https"/>.</summary>
    public ProvisioningTransport Transport { get; set; } = ProvisioningTransport.Https;

    /// <summary>
    /// The path of the WebSocket URI <c>wss://{host}:443{path}</c> for <see cref="ProvisioningTransport.MqttWebSockets"/> and
    /// <see cref="ProvisioningTransport.AmqpWebSockets"/>. Default <see cref="DefaultWebSocketPath"/>.
    /// </summary>
    public string WebSocketPath { get; set; } = DefaultWebSocketPath;

    /// <summary>
    /// The HTTP proxy for HTTPS and for MQTT and AMQP over WebSockets, or <see langword="null"/> for the platform default
    /// (environment variables). MQTT and AMQP over TCP connect directly.
    /// </summary>
    public IWebProxy? Proxy { get; set; }

    /// <summary>
    /// Root certificates trusted for the service's TLS certificate in addition to the system store (for example a local
    /// emulator's CA). Validation stays on: the server chain must end at a system root or one of these, carry the serverAuth
    /// extended key usage and match the host name.
    /// </summary>
    public X509Certificate2Collection TrustedRootCertificates { get; } = [];

    /// <summary>
    /// The limit on one exchange (an HTTP request; over MQTT, one request with its answer, including the connection and
    /// subscription it may first open); one that takes longer is a transient failure. Default 30 s.
    /// </summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The overall deadline of one registration, retries and polls included. Default 5 minutes.</summary>
    public TimeSpan RegistrationTimeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Delays between polls and retries.</summary>
    public ProvisioningRetryPolicy RetryPolicy { get; set; } = new();

    /// <summary>Where state transitions are logged. Default none.</summary>
    public ILoggerFactory? LoggerFactory { get; set; }

    /// <summary>
    /// The store of the last successful registration, so a rebooting device can go straight to its hub. Default none.
    /// </summary>
    public IRegistrationCache? RegistrationCache { get; set; }

    /// <summary>Text appended to the User-Agent header, e.g. "contoso-firmware/1.2".</summary>
    public string? ProductInfo { get; set; }

    /// <summary>The lifetime of the SAS tokens sent to DPS. Default 1 hour.</summary>
    public TimeSpan SasTokenTimeToLive { get; set; } = TimeSpan.FromHours(1);

    /// <summary>The source of jitter: uniform values in [0, 1). Tests make it fixed.</summary>
    internal Func<double> NextRandom { get; set; } = SharedRandom;

    // One delegate for every options object (Random.Shared is thread-safe).
    private static readonly Func<double> SharedRandom = Random.Shared.NextDouble;

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(TimeProvider, nameof(TimeProvider));
        ArgumentNullException.ThrowIfNull(RetryPolicy, nameof(RetryPolicy));
        RetryPolicy.Validate();
        if (RequestTimeout <= TimeSpan.Zero && RequestTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(RequestTimeout), RequestTimeout, "The request timeout must be positive or infinite.");
        }

        if (RegistrationTimeout <= TimeSpan.Zero && RegistrationTimeout != Timeout.InfiniteTimeSpan)
        {
            throw new ArgumentOutOfRangeException(nameof(RegistrationTimeout), RegistrationTimeout, "The registration timeout must be positive or infinite.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(SasTokenTimeToLive, TimeSpan.Zero, nameof(SasTokenTimeToLive));
        if (!Enum.IsDefined(Transport))
        {
            throw new ArgumentOutOfRangeException(nameof(Transport), Transport, "Unknown transport.");
        }

        if (string.IsNullOrEmpty(WebSocketPath) || WebSocketPath[0] != '/' || WebSocketPath.IndexOfAny(['?', '#', ' ']) >= 0)
        {
            throw new ArgumentException("The WebSocket path must start with '/' and hold no query, fragment or space.", nameof(WebSocketPath));
        }
    }
}

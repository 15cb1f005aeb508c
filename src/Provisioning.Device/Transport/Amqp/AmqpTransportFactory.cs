using Microsoft.Extensions.Logging;

using Provisioning.Device.Transport.Http;

namespace Provisioning.Device.Transport.Amqp;

/// <summary>
/// What a client keeps for AMQP: the endpoint, and for WebSockets one HTTP handler (proxy, trust, client certificate).
/// Each registration gets its own connection: its SASL exchange authenticates that registration (dps-protocol.md §6).
/// </summary>
internal sealed class AmqpTransportFactory : IDisposable
{
    private readonly ProvisioningAttestation _attestation;
    private readonly ProvisioningClientOptions _options;
    private readonly ILogger _logger;
    private readonly SocketEndpoint _endpoint;
    private readonly HttpMessageInvoker? _webSocketInvoker;

    /// <exception cref="ArgumentException">The endpoint is not a host for AMQP.</exception>
    public AmqpTransportFactory(string globalEndpoint, ProvisioningAttestation attestation, ProvisioningClientOptions options, ILogger logger)
    {
        _attestation = attestation;
        _options = options;
        _logger = logger;
        _endpoint = SocketEndpoint.Create(globalEndpoint, attestation, options);
        if (_endpoint.WebSocketUri is not null)
        {
            if (!ProvisioningFeatures.IsWebSocketsSupported)
            {
                throw ProvisioningFeatures.Removed(options.Transport, ProvisioningFeatures.WebSocketsSwitch);
            }

            _webSocketInvoker = new HttpMessageInvoker(ProvisioningHttpHandler.Create(attestation, options), disposeHandler: true);
        }
    }

    /// <summary>A transport for one registration; dispose it asynchronously to close the connection cleanly.</summary>
    public AmqpProvisioningTransport Create() => new(_endpoint, _webSocketInvoker, _attestation, _options, _logger);

    public void Dispose() => _webSocketInvoker?.Dispose();
}

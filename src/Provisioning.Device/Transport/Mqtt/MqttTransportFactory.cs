using Microsoft.Extensions.Logging;

using Provisioning.Device.Transport.Http;

namespace Provisioning.Device.Transport.Mqtt;

/// <summary>
/// What a client keeps for MQTT: the endpoint, and for WebSockets one HTTP handler (proxy, trust, client certificate).
/// Each registration gets its own connection, because the MQTT client id is the registration id (dps-protocol.md §5).
/// </summary>
internal sealed class MqttTransportFactory : IDisposable
{
    private readonly ProvisioningClientOptions _options;
    private readonly ILogger _logger;
    private readonly SocketEndpoint _endpoint;
    private readonly HttpMessageInvoker? _webSocketInvoker;
    private readonly Func<IDpsMqttConnection> _connect;

    /// <exception cref="ArgumentException">The attestation is TPM, or the endpoint is not a host for MQTT.</exception>
    public MqttTransportFactory(
        string globalEndpoint, ProvisioningAttestation attestation, ProvisioningClientOptions options, ILogger logger, Func<IDpsMqttConnection>? connect = null)
    {
        ThrowIfUnsupported(attestation, options.Transport);
        _options = options;
        _logger = logger;
        _endpoint = SocketEndpoint.Create(globalEndpoint, attestation, options);
        if (connect is null && _endpoint.WebSocketUri is not null)
        {
            if (!ProvisioningFeatures.IsWebSocketsSupported)
            {
                throw ProvisioningFeatures.Removed(options.Transport, ProvisioningFeatures.WebSocketsSwitch);
            }

            _webSocketInvoker = new HttpMessageInvoker(ProvisioningHttpHandler.Create(attestation, options), disposeHandler: true);
        }

        _connect = connect ?? (() => new MqttNetDpsConnection(_endpoint, _webSocketInvoker, _options.RequestTimeout));
    }

    /// <summary>Refuses TPM before any traffic (dps-protocol.md §5): DPS has no TPM challenge over MQTT.</summary>
    public static void ThrowIfUnsupported(ProvisioningAttestation attestation, ProvisioningTransport transport)
    {
        if (attestation.RequiresChallenge)
        {
            throw new ArgumentException(
                $"TPM attestation is not supported over {transport}: the provisioning service has no TPM challenge over MQTT " +
                "(the nonce challenge needs a multi-step exchange that MQTT 3.1.1 CONNECT does not offer). " +
                $"Use {nameof(ProvisioningTransport)}.{nameof(ProvisioningTransport.Https)} or {nameof(ProvisioningTransport.Amqp)}, which support TPM.",
                nameof(attestation));
        }
    }

    /// <summary>A transport for one registration; dispose it asynchronously to send DISCONNECT.</summary>
    public MqttProvisioningTransport Create() => new(_connect(), _options, _logger);

    public void Dispose() => _webSocketInvoker?.Dispose();
}

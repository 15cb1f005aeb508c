using MQTTnet.Adapter;
using MQTTnet.Channel;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;

namespace Provisioning.Device.Transport.Mqtt;

/// <summary>Gives MQTTnet our channels (<see cref="TlsTcpChannel"/> or <see cref="WebSocketChannel"/>) instead of its own.</summary>
internal sealed class DpsChannelAdapterFactory
{
    private const int InitialWriterBufferSize = 1024;
    private const int MaxWriterBufferSize = 65535;

    private readonly SocketEndpoint _endpoint;
    private readonly HttpMessageInvoker? _webSocketInvoker;

    public DpsChannelAdapterFactory(SocketEndpoint endpoint, HttpMessageInvoker? webSocketInvoker)
    {
        _endpoint = endpoint;
        _webSocketInvoker = webSocketInvoker;
    }

    /// <summary>A new channel (not yet connected) and MQTTnet's adapter over it, for MQTT 3.1.1.</summary>
    public (IMqttChannel Channel, MqttChannelAdapter Adapter) Create()
    {
        IMqttChannel channel = _endpoint.WebSocketUri is null
            ? new TlsTcpChannel(_endpoint)
            : ProvisioningFeatures.IsWebSocketsSupported
                ? new WebSocketChannel(_endpoint, _webSocketInvoker ?? throw new InvalidOperationException("MQTT over WebSockets needs an HTTP handler."))
                : throw ProvisioningFeatures.Removed(ProvisioningTransport.MqttWebSockets, ProvisioningFeatures.WebSocketsSwitch);
        // A registration's packets fit in 1 KiB: CONNECT (its user name with the client version, and the SAS token) is the largest,
        // over 512 bytes (a 512-byte start grew to 1 KiB on every connection: 0.6 KB more per registration, measured). MQTTnet's
        // default starts with 4 KiB. A larger packet (a CSR payload) grows it up to MQTTnet's default maximum.
        var formatter = new MqttPacketFormatterAdapter(MqttProtocolVersion.V311, new MqttBufferWriter(InitialWriterBufferSize, MaxWriterBufferSize));
        return (channel, new MqttChannelAdapter(channel, formatter, MqttNetNullLogger.Instance));
    }
}

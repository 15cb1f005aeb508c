using MQTTnet;
using MQTTnet.Adapter;
using MQTTnet.Channel;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;

namespace Provisioning.Device.Transport.Mqtt;

/// <summary>Gives MQTTnet our channels (<see cref="TlsTcpChannel"/> or <see cref="WebSocketChannel"/>) instead of its own.</summary>
internal sealed class DpsChannelAdapterFactory : IMqttClientAdapterFactory
{
    private const int InitialWriterBufferSize = 512;

    private readonly SocketEndpoint _endpoint;
    private readonly HttpMessageInvoker? _webSocketInvoker;

    public DpsChannelAdapterFactory(SocketEndpoint endpoint, HttpMessageInvoker? webSocketInvoker)
    {
        _endpoint = endpoint;
        _webSocketInvoker = webSocketInvoker;
    }

    public IMqttChannelAdapter CreateClientAdapter(MqttClientOptions options, MqttPacketInspector packetInspector, IMqttNetLogger logger)
    {
        ArgumentNullException.ThrowIfNull(options);
        IMqttChannel channel = _endpoint.WebSocketUri is null
            ? new TlsTcpChannel(_endpoint)
            : ProvisioningFeatures.IsWebSocketsSupported
                ? new WebSocketChannel(_endpoint, _webSocketInvoker ?? throw new InvalidOperationException("MQTT over WebSockets needs an HTTP handler."))
                : throw ProvisioningFeatures.Removed(ProvisioningTransport.MqttWebSockets, ProvisioningFeatures.WebSocketsSwitch);
        // A registration's packets (CONNECT with its SAS token, the register and poll PUBLISHes) fit in 512 bytes; MQTTnet's
        // default starts every connection with a 4 KiB buffer. A larger packet (a CSR payload) grows it as before.
        var formatter = new MqttPacketFormatterAdapter(
            options.ProtocolVersion, new MqttBufferWriter(Math.Min(InitialWriterBufferSize, options.WriterBufferSize), options.WriterBufferSizeMax));
        return new MqttChannelAdapter(channel, formatter, logger) { PacketInspector = packetInspector };
    }
}

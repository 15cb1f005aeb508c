using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

using MQTTnet.Adapter;
using MQTTnet.Diagnostics.Logger;
using MQTTnet.Formatter;
using MQTTnet.Implementations;
using MQTTnet.Server;

using Provisioning.Emulator.Mqtt;

namespace Provisioning.Emulator.Hubs;

/// <summary>
/// The hub's MQTT-over-TLS socket, in place of MQTTnet's own TLS endpoint, which waits for a handshake forever and lets a
/// client announce a packet of any size before it authenticates: a handshake that does not complete within
/// <see cref="EmulatedIotHubOptions.TlsHandshakeTimeout"/> is dropped, and every packet is capped
/// (<see cref="MqttPacketLimitStream"/>: <see cref="EmulatedIotHubOptions.MaxPacketBytesBeforeAuthentication"/>, then
/// <see cref="EmulatedIotHubOptions.MaxPacketBytes"/>).
/// </summary>
internal sealed class HubMqttListener(EmulatedIotHubOptions options, IPEndPoint endPoint, RemoteCertificateValidationCallback validateClient) : IMqttServerAdapter
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private readonly HashSet<Socket> _clients = [];
    private Socket? _listener;
    private Task? _acceptLoop;
    private MqttServerOptions? _serverOptions;
    private IMqttNetLogger _logger = MqttNetNullLogger.Instance;

    public Func<IMqttChannelAdapter, Task>? ClientHandler { get; set; }

    public Task StartAsync(MqttServerOptions serverOptions, IMqttNetLogger logger)
    {
        _serverOptions = serverOptions;
        _logger = logger;
        var listener = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // As MQTTnet's endpoint with WithTlsEndpointReuseAddress: a restarted hub gets its port back at once.
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(endPoint);
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }

        _listener = listener;
        _acceptLoop = Task.Run(AcceptLoopAsync);
        return Task.CompletedTask;
    }

    public async Task StopAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        lock (_gate)
        {
            foreach (var client in _clients)
            {
                client.Dispose();
            }
        }

        if (_acceptLoop is { } loop)
        {
            await loop.ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        _listener?.Dispose();
        _stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await _listener!.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                if (_stopping.IsCancellationRequested)
                {
                    return;
                }

                continue;
            }

            _ = Task.Run(() => ServeAsync(client));
        }
    }

    private async Task ServeAsync(Socket socket)
    {
        lock (_gate)
        {
            _clients.Add(socket);
        }

        try
        {
            socket.NoDelay = true;
            var remote = socket.RemoteEndPoint;
            await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: true), false, validateClient);
            using (var handshake = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token))
            {
                // A client that opens the socket and never completes TLS is dropped, on every port.
                handshake.CancelAfter(options.TlsHandshakeTimeout);
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions
                {
                    ServerCertificate = options.ServerCertificate,
                    ClientCertificateRequired = true,
                    CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                    EncryptionPolicy = EncryptionPolicy.RequireEncryption,
                }, handshake.Token).ConfigureAwait(false);
            }

            var certificate = tls.RemoteCertificate is { } presented
                ? presented as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(presented.GetRawCertData())
                : null;
            if (ClientHandler is not { } handler || _serverOptions is not { } serverOptions)
            {
                return;
            }

            await using var limited = new MqttPacketLimitStream(tls, EmulatedIotHubOptions.MaxPacketBytesBeforeAuthentication, options.MaxPacketBytes);
            var channel = new MqttTcpChannel(limited, endPoint, remote, certificate);
            var formatter = new MqttPacketFormatterAdapter(new MqttBufferWriter(serverOptions.WriterBufferSize, serverOptions.WriterBufferSizeMax));
            using var adapter = new MqttChannelAdapter(channel, formatter, _logger) { AllowPacketFragmentation = true };
            await handler(adapter).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException
            or System.Security.Authentication.AuthenticationException)
        {
            // A handshake that timed out or failed, or a client that went away: only that connection ends.
        }
        finally
        {
            lock (_gate)
            {
                _clients.Remove(socket);
            }

            socket.Dispose();
        }
    }
}

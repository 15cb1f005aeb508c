using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>A minimal HTTP CONNECT proxy on a loopback port: records each CONNECT line, then relays bytes both ways.</summary>
public sealed class TunnelingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public TunnelingProxy()
    {
        _listener.Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");

    public List<string> ConnectLines { get; } = [];

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        var tunnels = new List<Task>();
        while (true)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                break;
            }

            tunnels.Add(Task.Run(() => TunnelAsync(client)));
        }

        await Task.WhenAll(tunnels);
    }

    private async Task TunnelAsync(TcpClient client)
    {
        using (client)
        {
            NetworkStream downstream = client.GetStream();
            string head = await ReadHeadAsync(downstream);
            string line = head.Split("\r\n")[0];
            lock (ConnectLines)
            {
                ConnectLines.Add(line);
            }

            string[] parts = line.Split(' ');
            if (parts.Length != 3 || parts[0] != "CONNECT")
            {
                await downstream.WriteAsync("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n"u8.ToArray(), _stop.Token);
                return;
            }

            int colon = parts[1].LastIndexOf(':');
            using var upstream = new TcpClient();
            await upstream.ConnectAsync(parts[1][..colon], int.Parse(parts[1][(colon + 1)..], System.Globalization.CultureInfo.InvariantCulture), _stop.Token);
            await downstream.WriteAsync("HTTP/1.1 200 Connection Established\r\n\r\n"u8.ToArray(), _stop.Token);
            NetworkStream up = upstream.GetStream();
            try
            {
                await Task.WhenAny(downstream.CopyToAsync(up, _stop.Token), up.CopyToAsync(downstream, _stop.Token));
            }
            catch (Exception ex) when (ex is IOException or OperationCanceledException)
            {
                // Either side hanging up ends the tunnel.
            }
        }
    }

    private async Task<string> ReadHeadAsync(Stream stream)
    {
        var head = new List<byte>();
        byte[] one = new byte[1];
        while (head.Count < 8192 && await stream.ReadAsync(one, _stop.Token) == 1)
        {
            head.Add(one[0]);
            if (head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n')
            {
                break;
            }
        }

        return Encoding.ASCII.GetString([.. head]);
    }
}

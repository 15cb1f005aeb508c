using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Provisioning.Device.Hub.Tests;

/// <summary>A minimal HTTP CONNECT proxy on loopback that sends every tunnel to one target and records what was asked for.</summary>
public sealed class ConnectProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;

    public ConnectProxy(IPEndPoint target)
    {
        _target = target;
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public Uri Address => new($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}");

    public System.Collections.Concurrent.ConcurrentQueue<string> Requests { get; } = new();

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stop.Token);
                _ = TunnelAsync(client);
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    private async Task TunnelAsync(TcpClient client)
    {
        using var _ = client;
        var stream = client.GetStream();
        var header = new StringBuilder();
        var one = new byte[1];
        while (!header.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal) && await stream.ReadAsync(one, _stop.Token) == 1)
        {
            header.Append((char)one[0]);
        }

        Requests.Enqueue(header.ToString().Split("\r\n")[0]);
        using var upstream = new TcpClient();
        await upstream.ConnectAsync(_target, _stop.Token);
        await stream.WriteAsync("HTTP/1.1 200 Connection established\r\n\r\n"u8.ToArray(), _stop.Token);
        var up = stream.CopyToAsync(upstream.GetStream(), _stop.Token);
        var down = upstream.GetStream().CopyToAsync(stream, _stop.Token);
        try
        {
            await Task.WhenAny(up, down);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // A side closed.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _accepting;
        _stop.Dispose();
    }
}

using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Provisioning.Device.Tests.Fakes;

/// <summary>What a <see cref="HostileDps"/> does with one request.</summary>
public abstract record HostileReply
{
    /// <summary>Answers with a status, a JSON body and extra headers.</summary>
    public static HostileReply Respond(int status, string? body = null, params (string Name, string Value)[] headers) => new Answer(status, body, headers);

    /// <summary>Resets the TCP connection (RST) instead of answering.</summary>
    public static HostileReply Reset { get; } = new ResetConnection();

    /// <summary>Sends these bytes (ASCII) as the whole answer, framing and all; then closes the connection when asked.</summary>
    public static HostileReply Raw(string text, bool close = false) => new RawBytes(text, close);

    /// <summary>Sends a valid start of an answer, then one byte of a header every <paramref name="interval"/>, forever (slowloris).</summary>
    public static HostileReply Trickle(TimeSpan interval) => new Slow(interval);

    /// <summary>Answers, then closes the connection without saying so (no <c>Connection: close</c>): an idle timeout.</summary>
    public static HostileReply RespondThenClose(int status, string? body = null) => new AnswerThenClose(status, body);

    public sealed record RawBytes(string Text, bool Close) : HostileReply;

    public sealed record Slow(TimeSpan Interval) : HostileReply;

    public sealed record AnswerThenClose(int Status, string? Body) : HostileReply;

    public sealed record Answer(int Status, string? Body, (string Name, string Value)[] Headers) : HostileReply;

    public sealed record ResetConnection : HostileReply;
}

/// <summary>
/// A small DPS that misbehaves on purpose: HTTP/1.1 with keep-alive over real TLS on a loopback port, each request answered by
/// a script (any status, header or body, or a TCP reset). It records every request line, so a test can see what the device
/// sent and how often.
/// </summary>
public sealed class HostileDps : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly SslStreamCertificateContext _certificate;
    private readonly Func<string, int, HostileReply> _script;
    private readonly List<string> _requests = [];
    private readonly Task _loop;

    /// <param name="serverCertificate">The TLS certificate (with key).</param>
    /// <param name="script">Given the request line and its index (from 0), what to do.</param>
    public HostileDps(X509Certificate2 serverCertificate, Func<string, int, HostileReply> script)
    {
        _certificate = SslStreamCertificateContext.Create(serverCertificate, additionalCertificates: null, offline: true);
        _script = script;
        _listener.Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The endpoint a client dials: <c>localhost:port</c> (the certificate names localhost).</summary>
    public string Endpoint => $"localhost:{Port}";

    private int _connections;

    /// <summary>How many TCP connections were accepted.</summary>
    public int Connections => Volatile.Read(ref _connections);

    public IReadOnlyList<string> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _loop;
        }
        catch (OperationCanceledException)
        {
            // Stopping is the expected end of the loop.
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        var connections = new List<Task>();
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                break;
            }

            connections.Add(ServeConnectionAsync(socket));
        }

        await Task.WhenAll(connections);
    }

    private async Task ServeConnectionAsync(Socket socket)
    {
        Interlocked.Increment(ref _connections);
        try
        {
            await using var tls = new SslStream(new NetworkStream(socket, ownsSocket: false));
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificateContext = _certificate }, _stop.Token);
            while (!_stop.IsCancellationRequested)
            {
                string head = await ReadHeadAsync(tls);
                if (head.Length == 0)
                {
                    return;
                }

                string line = head.Split("\r\n")[0];
                int index;
                lock (_requests)
                {
                    index = _requests.Count;
                    _requests.Add(line);
                }

                int length = head.Split("\r\n").Where(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
                    .Select(l => int.Parse(l["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
                await tls.ReadExactlyAsync(new byte[length], _stop.Token);
                switch (_script(line, index))
                {
                    case HostileReply.ResetConnection:
                        socket.LingerState = new LingerOption(true, 0);
                        socket.Close();
                        return;
                    case HostileReply.RawBytes raw:
                        await tls.WriteAsync(Encoding.ASCII.GetBytes(raw.Text), _stop.Token);
                        await tls.FlushAsync(_stop.Token);
                        if (raw.Close)
                        {
                            return;
                        }

                        break;
                    case HostileReply.Slow slow:
                        await tls.WriteAsync("HTTP/1.1 200 OK\r\nX-Slow: "u8.ToArray(), _stop.Token);
                        while (true)
                        {
                            await tls.WriteAsync("a"u8.ToArray(), _stop.Token);
                            await tls.FlushAsync(_stop.Token);
                            await Task.Delay(slow.Interval, _stop.Token);
                        }

                    case HostileReply.AnswerThenClose closing:
                        byte[] closingPayload = Encoding.UTF8.GetBytes(closing.Body ?? string.Empty);
                        await tls.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 {closing.Status} Scripted\r\nContent-Type: application/json\r\nContent-Length: {closingPayload.Length}\r\n\r\n"), _stop.Token);
                        await tls.WriteAsync(closingPayload, _stop.Token);
                        await tls.FlushAsync(_stop.Token);
                        return;
                    case HostileReply.Answer answer:
                        byte[] payload = Encoding.UTF8.GetBytes(answer.Body ?? string.Empty);
                        var text = new StringBuilder($"HTTP/1.1 {answer.Status} Scripted\r\nContent-Type: application/json\r\nContent-Length: {payload.Length}\r\n");
                        foreach (var (name, value) in answer.Headers)
                        {
                            text.Append(name).Append(": ").Append(value).Append("\r\n");
                        }

                        await tls.WriteAsync(Encoding.ASCII.GetBytes(text.Append("\r\n").ToString()), _stop.Token);
                        await tls.WriteAsync(payload, _stop.Token);
                        await tls.FlushAsync(_stop.Token);
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or System.Security.Authentication.AuthenticationException or OperationCanceledException
            or ObjectDisposedException or SocketException)
        {
            // A client that refuses the certificate or hangs up ends its connection; the server goes on.
        }
        finally
        {
            socket.Dispose();
        }
    }

    private async Task<string> ReadHeadAsync(Stream stream)
    {
        var head = new List<byte>();
        byte[] one = new byte[1];
        while (head.Count < 16384)
        {
            if (await stream.ReadAsync(one, _stop.Token) == 0)
            {
                return string.Empty;
            }

            head.Add(one[0]);
            if (head.Count >= 4 && head[^4] == '\r' && head[^3] == '\n' && head[^2] == '\r' && head[^1] == '\n')
            {
                break;
            }
        }

        return Encoding.ASCII.GetString([.. head]);
    }
}

using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Provisioning.Device.Tests.Fakes;

/// <summary>
/// A minimal HTTPS/1.1 server on a loopback port: real TCP, real TLS with a required client certificate. It answers
/// every request with one fixed JSON body and records what the handshake and the request carried.
/// </summary>
public sealed class TinyTlsServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly SslStreamCertificateContext _certificate;
    private readonly string _responseBody;
    private readonly Task _loop;

    public TinyTlsServer(X509Certificate2 serverCertificate, string responseBody)
    {
        _certificate = SslStreamCertificateContext.Create(serverCertificate, additionalCertificates: null, offline: true);
        _responseBody = responseBody;
        _listener.Start();
        _loop = Task.Run(AcceptLoopAsync);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The subject of each client certificate received.</summary>
    public List<string> ClientSubjects { get; } = [];

    /// <summary>The subjects of the extra certificates the client sent after its leaf.</summary>
    public List<string> ClientChainSubjects { get; } = [];

    public List<string> RequestLines { get; } = [];

    public List<string> HandshakeFailures { get; } = [];

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
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            using (client)
            {
                try
                {
                    await ServeAsync(client);
                }
                catch (Exception ex) when (ex is System.Security.Authentication.AuthenticationException or IOException)
                {
                    // A client that refuses our certificate hangs up during or just after the handshake.
                    lock (HandshakeFailures)
                    {
                        HandshakeFailures.Add(ex.Message);
                    }
                }
            }
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        await using var tls = new SslStream(client.GetStream());
        await tls.AuthenticateAsServerAsync(
                new SslServerAuthenticationOptions
                {
                    ServerCertificateContext = _certificate,
                    ClientCertificateRequired = true,
                    RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
                    {
                        lock (ClientSubjects)
                        {
                            ClientSubjects.Add(certificate?.Subject ?? "(none)");
                            if (chain is not null)
                            {
                                ClientChainSubjects.AddRange(chain.ChainPolicy.ExtraStore.Select(c => c.Subject));
                            }
                        }

                        // The test inspects what arrived; trust decisions are the client's side of this test.
                        return certificate is not null;
                    },
                },
                _stop.Token);

        string head = await ReadHeadAsync(tls);
        if (head.Length == 0)
        {
            return;
        }

        lock (RequestLines)
        {
            RequestLines.Add(head.Split("\r\n")[0]);
        }

        int length = head.Split("\r\n").Where(l => l.StartsWith("Content-Length:", StringComparison.OrdinalIgnoreCase))
            .Select(l => int.Parse(l["Content-Length:".Length..].Trim(), System.Globalization.CultureInfo.InvariantCulture)).FirstOrDefault();
        byte[] body = new byte[length];
        await tls.ReadExactlyAsync(body, _stop.Token);

        byte[] payload = Encoding.UTF8.GetBytes(_responseBody);
        byte[] response = Encoding.ASCII.GetBytes(
            $"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {payload.Length}\r\nConnection: close\r\n\r\n");
        await tls.WriteAsync(response, _stop.Token);
        await tls.WriteAsync(payload, _stop.Token);
        await tls.FlushAsync(_stop.Token);
    }

    private async Task<string> ReadHeadAsync(Stream stream)
    {
        var head = new List<byte>();
        byte[] one = new byte[1];
        while (head.Count < 16384)
        {
            if (await stream.ReadAsync(one, _stop.Token) == 0)
            {
                break;
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

using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Emulator.Tests.Support;

/// <summary>Raw TLS connections to an emulator port, trusting exactly the emulator CA.</summary>
internal static class TestTls
{
    public static async Task<(TcpClient Tcp, SslStream Tls)> OpenAsync(DpsEmulator dps, int port, string targetHost = "localhost")
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("localhost", port, TestContext.Current.CancellationToken);
        var root = X509CertificateLoader.LoadCertificate(dps.CertificateAuthority.Certificate.RawData);
        var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(root);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return certificate is not null && chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        });
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = targetHost }, TestContext.Current.CancellationToken);
        return (tcp, tls);
    }

    /// <summary>Reads until the peer closes; returns how many bytes came, or -1 when it did not close within <paramref name="timeout"/>.</summary>
    public static async Task<long> ReadUntilClosedAsync(Stream stream, TimeSpan timeout)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        deadline.CancelAfter(timeout);
        var buffer = new byte[4096];
        long total = 0;
        try
        {
            while (true)
            {
                var read = await stream.ReadAsync(buffer, deadline.Token);
                if (read == 0)
                {
                    return total;
                }

                total += read;
            }
        }
        catch (OperationCanceledException) when (!TestContext.Current.CancellationToken.IsCancellationRequested)
        {
            return -1;
        }
        catch (IOException)
        {
            return total;
        }
    }
}

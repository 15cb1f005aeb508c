using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Provisioning.Emulator.Tests.Mqtt;

/// <summary>Hand-written MQTT 3.1.1 packets over a TLS stream, for tests that read the wire or choose the handshake themselves.</summary>
internal static class RawMqtt
{
    /// <summary>TLS to the MQTT endpoint trusting the emulator CA; <paramref name="clientCertificate"/> sends a certificate and its chain.</summary>
    public static async Task<SslStream> OpenAsync(DpsEmulator dps, SslStreamCertificateContext? clientCertificate = null)
    {
        var port = int.Parse(dps.MqttEndpoint!.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
        var tcp = new TcpClient();
        await tcp.ConnectAsync("localhost", port, TestContext.Current.CancellationToken);
        var root = dps.CertificateAuthority.Certificate;
        var tls = new SslStream(tcp.GetStream(), false, (_, certificate, _, _) =>
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(root);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return certificate is not null && chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        });
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", ClientCertificateContext = clientCertificate }, TestContext.Current.CancellationToken);
        return tls;
    }

    /// <summary>CONNECT, MQTT 3.1.1, clean session, keep-alive 0; no password (X.509) when <paramref name="password"/> is null.</summary>
    public static byte[] Connect(string clientId, string userName, string? password) => password is null
        ? Packet(0x10, [.. Str("MQTT"), 4, 0x82, 0, 0, .. Str(clientId), .. Str(userName)])
        : Packet(0x10, [.. Str("MQTT"), 4, 0xC2, 0, 0, .. Str(clientId), .. Str(userName), .. Str(password)]);

    public static byte[] Str(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        return [(byte)(bytes.Length >> 8), (byte)bytes.Length, .. bytes];
    }

    public static byte[] Packet(byte header, byte[] body)
    {
        var length = new List<byte>();
        var remaining = body.Length;
        do
        {
            var digit = (byte)(remaining % 128);
            remaining /= 128;
            length.Add(remaining > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (remaining > 0);

        return [header, .. length, .. body];
    }

    public static async Task<(int Type, byte[] Body)> ReadAsync(Stream stream)
    {
        var header = await ReadExactlyAsync(stream, 1);
        int length = 0, shift = 0;
        byte digit;
        do
        {
            digit = (await ReadExactlyAsync(stream, 1))[0];
            length |= (digit & 0x7F) << shift;
            shift += 7;
        }
        while ((digit & 0x80) != 0);

        return (header[0], await ReadExactlyAsync(stream, length));
    }

    public static async Task<byte[]> ReadExactlyAsync(Stream stream, int count)
    {
        var buffer = new byte[count];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(30));
        await stream.ReadExactlyAsync(buffer, timeout.Token);
        return buffer;
    }
}

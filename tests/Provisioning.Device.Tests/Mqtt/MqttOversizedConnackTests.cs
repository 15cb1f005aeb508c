using System.Net;
using System.Net.Security;
using System.Net.Sockets;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>
/// A packet refused by the size guard while MQTTnet itself waits for it (the CONNACK) is the same refusal as one refused while
/// the client waits for an answer: not transient, and not retried.
/// </summary>
public sealed class MqttOversizedConnackTests : IClassFixture<MqttPki>
{
    private readonly MqttPki _pki;

    public MqttOversizedConnackTests(MqttPki pki)
    {
        _pki = pki;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Register_WhenTheConnackIsOver256KiB_RefusesThePacketNonTransientWithoutRetrying()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int connections = 0;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task server = Task.Run(async () =>
        {
            var context = SslStreamCertificateContext.Create(_pki.Value.Server, additionalCertificates: null, offline: true);
            while (!stop.IsCancellationRequested)
            {
                using TcpClient client = await listener.AcceptTcpClientAsync(stop.Token);
                Interlocked.Increment(ref connections);
                await using var tls = new SslStream(client.GetStream());
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificateContext = context }, stop.Token);
                byte[] connect = new byte[1024];
                _ = await tls.ReadAsync(connect, stop.Token);

                // CONNACK whose Remaining Length says 268 MB (MQTT 3.1.1 §2.2.3: four length bytes, all high).
                await tls.WriteAsync(new byte[] { 0x20, 0xFF, 0xFF, 0xFF, 0x7F }, stop.Token);
                await tls.FlushAsync(stop.Token);
                try
                {
                    // Held open until the client hangs up.
                    _ = await tls.ReadAsync(connect, stop.Token);
                }
                catch (IOException)
                {
                    // The client closed the connection abruptly: the expected end.
                }
            }
        }, Ct);

        using SymmetricKeyAttestation attestation = Fakes.TestClients.SymmetricKey();
        using var client = new ProvisioningDeviceClient(
            $"localhost:{((IPEndPoint)listener.LocalEndpoint).Port}", Fakes.Dps.IdScope, attestation, _pki.Options(ProvisioningTransport.Mqtt));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("over the 256 KiB limit", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, Volatile.Read(ref connections));
        await stop.CancelAsync();
        listener.Stop();
        // The fake server ends either way: the client's hang-up ends its read (0 bytes or a reset), or the stop cancels it.
        Exception? ended = await Record.ExceptionAsync(() => server);
        Assert.True(ended is null or OperationCanceledException or IOException or ObjectDisposedException, ended?.ToString());
    }
}

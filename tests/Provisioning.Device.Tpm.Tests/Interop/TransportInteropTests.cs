using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

using Provisioning.Testing;

namespace Provisioning.Device.Tpm.Tests.Interop;

/// <summary>Each transport against swtpm (or a small fake where swtpm cannot play the part).</summary>
[Trait("Category", "Interop")]
public sealed class TransportInteropTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Swtpm_ReleasingTheConnectionBetweenCommands_LetsAnotherClientTakeTurns_WhileTheTransportIsOpen()
    {
        // swtpm serves one connection at a time: a second client (here tpm2-tools; in TLS with a TPM key, OpenSSL's tpm2 provider)
        // is answered between our commands only when our transport lets go of its connection.
        Swtpm.RequireOrSkip(tools: true);
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var transport = TpmTransport.Open(tpm.TransportSpec, new TpmTransportOptions { ReleaseConnectionBetweenCommands = true });
        var commands = new TpmCommands(transport);
        for (var turn = 0; turn < 3; turn++)
        {
            Assert.Equal(16, (await commands.GetRandomAsync(16, Ct)).Length);
            var other = await tpm.ToolAsync("tpm2_getrandom", ["--hex", "8"], cancellationToken: Ct);
            Assert.True(other.ExitCode == 0, other.StandardError);
            Assert.Equal(16, other.StandardOutput.Trim().Length);
        }
    }

    [Fact]
    public async Task UnixSocket_CarriesCommands_ToSwtpmUnixio()
    {
        Swtpm.RequireOrSkip();
        await using var tpm = await SwtpmInstance.StartNewUnixSocketAsync(Ct);
        Assert.StartsWith("unix:", tpm.TransportSpec, StringComparison.Ordinal);
        await using var identity = TpmIdentity.Open(tpm.TransportSpec);
        Assert.Equal(52, (await identity.GetRegistrationIdAsync(Ct)).Length);
    }

    [Fact]
    public async Task DeviceTransport_FallsBackToTheSecondPath_AndSpeaksToATpmStream()
    {
        // No /dev/tpm* here: the device transport's framing runs over swtpm's Unix socket, a stream like the kernel device.
        Swtpm.RequireOrSkip();
        await using var tpm = await SwtpmInstance.StartNewUnixSocketAsync(Ct);
        var tried = new List<string>();
        Stream Open(string path)
        {
            tried.Add(path);
            if (path != "/dev/tpm0")
            {
                throw new FileNotFoundException("absent", path);
            }

            var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            socket.Connect(new UnixDomainSocketEndPoint(tpm.UnixSocketPath!));
            return new NetworkStream(socket, ownsSocket: true);
        }

        await using var transport = new DeviceTpmTransport(DeviceTpmTransport.DefaultPaths, new TpmTransportOptions(), Open);
        var commands = new TpmCommands(transport);
        Assert.Equal(16, (await commands.GetRandomAsync(16, Ct)).Length);
        Assert.Equal(["/dev/tpmrm0", "/dev/tpm0"], tried);
        Assert.Equal("/dev/tpm0", transport.OpenedPath);
    }

    [Fact]
    public async Task DeviceTransport_OverSwtpmChardev_RunsTheIdentity()
    {
        // The device transport's own FileStream I/O, on a socketpair whose other end is `swtpm chardev --fd`.
        Swtpm.RequireOrSkip();
        await using var chardev = SwtpmChardev.Start();
        await using var transport = new DeviceTpmTransport(["/dev/tpmrm0"], new TpmTransportOptions { Timeout = TimeSpan.FromSeconds(30) }, _ => chardev.Device);
        await using var identity = new TpmIdentity(transport, ownsTransport: false);
        Assert.Equal(52, (await identity.GetRegistrationIdAsync(Ct)).Length);
        Assert.StartsWith("AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S", Convert.ToBase64String(await identity.GetEndorsementKeyAsync(Ct)), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Mssim_FramesCommands_AndPowersOnThroughThePlatformPort()
    {
        // swtpm's data port takes the simulator's send-command framing; its platform commands are played by a fake.
        Swtpm.RequireOrSkip();
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        using var platform = new TcpListener(IPAddress.Loopback, 0);
        platform.Start();
        var received = new List<uint>();
        var platformTask = Task.Run(
            async () =>
            {
                using var client = await platform.AcceptTcpClientAsync(Ct);
                var stream = client.GetStream();
                var four = new byte[4];
                while (await stream.ReadAtLeastAsync(four, 4, throwOnEndOfStream: false, Ct) == 4)
                {
                    var command = BinaryPrimitives.ReadUInt32BigEndian(four);
                    received.Add(command);
                    if (command == 20)
                    {
                        break; // session end: no answer
                    }

                    await stream.WriteAsync(new byte[4], Ct);
                }
            },
            Ct);

        var options = new TpmTransportOptions { SimulatorPlatformPort = ((IPEndPoint)platform.LocalEndpoint).Port };
        await using (var transport = TpmTransport.Open($"mssim:127.0.0.1:{tpm.Port}", options))
        {
            var commands = new TpmCommands(transport);
            Assert.False(await commands.StartupAsync(Ct)); // swtpm was started by its flags: TPM_RC_INITIALIZE
            Assert.Equal(8, (await commands.GetRandomAsync(8, Ct)).Length);
        }

        await platformTask;
        Assert.Equal([1u, 11u, 20u], received);
    }

    [Fact]
    public async Task Recording_CapturesEveryCommandAndResponse()
    {
        Swtpm.RequireOrSkip();
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var recorder = new RecordingTpmTransport(TpmTransport.Open(tpm.TransportSpec));
        var commands = new TpmCommands(recorder);
        await commands.GetRandomAsync(4, Ct);
        await Assert.ThrowsAsync<TpmException>(async () => await commands.ReadPublicAsync(0x81001234, Ct));

        Assert.Equal([TpmCommandCode.GetRandom, TpmCommandCode.ReadPublic], recorder.Exchanges.Select(e => e.CommandCode));
        Assert.Equal(0u, recorder.Exchanges[0].ResponseCode);
        Assert.Equal(0x18Bu, recorder.Exchanges[1].ResponseCode);
        Assert.Equal("80010000000C0000017B0004", Convert.ToHexString(recorder.Exchanges[0].Command));
    }

    [Fact]
    public async Task Swtpm_NothingListening_SaysNoTpmAnswers()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        await using var transport = TpmTransport.Open($"swtpm:127.0.0.1:{port}");
        var error = await Assert.ThrowsAsync<TpmException>(async () => await new TpmCommands(transport).GetRandomAsync(8, Ct));
        Assert.Contains("No TPM answers", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stream_PeerThatNeverAnswers_TimesOut_AndThenReconnects()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = new List<TcpClient>();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var acceptTask = Task.Run(
            async () =>
            {
                for (var i = 0; i < 2; i++)
                {
                    accepted.Add(await listener.AcceptTcpClientAsync(Ct));
                }
            },
            Ct);
        await using var transport = TpmTransport.Open($"swtpm:127.0.0.1:{port}", new TpmTransportOptions { Timeout = TimeSpan.FromMilliseconds(200) });
        var commands = new TpmCommands(transport);

        var first = await Assert.ThrowsAsync<TimeoutException>(async () => await commands.GetRandomAsync(8, Ct));
        Assert.Contains("TPM2_GetRandom", first.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<TimeoutException>(async () => await commands.GetRandomAsync(8, Ct));
        await acceptTask;
        Assert.Equal(2, accepted.Count); // the second command opened a new connection
        accepted.ForEach(c => c.Dispose());
    }

    [Fact]
    public async Task Stream_PeerClosingMidResponse_GivesATpmException()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var server = Task.Run(
            async () =>
            {
                using var client = await listener.AcceptTcpClientAsync(Ct);
                var stream = client.GetStream();
                await stream.ReadAtLeastAsync(new byte[12], 12, cancellationToken: Ct);
                await stream.WriteAsync(Convert.FromHexString("80010000001400000000"), Ct); // claims 20 bytes, sends 10
            },
            Ct);
        await using var transport = TpmTransport.Open($"swtpm:127.0.0.1:{port}");
        var error = await Assert.ThrowsAsync<TpmException>(async () => await new TpmCommands(transport).GetRandomAsync(8, Ct));
        Assert.Contains("closed the connection", error.Message, StringComparison.Ordinal);
        await server;
    }
}

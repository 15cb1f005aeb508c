using System.Buffers.Binary;
using System.Net.Sockets;

namespace Provisioning.Device.Tpm;

/// <summary>The Microsoft TPM 2.0 reference simulator (<c>Simulator.exe</c>, ports 2321/2322): each command framed with
/// TPM_SEND_COMMAND, and power-on plus NV-on sent to the platform port when connecting.</summary>
/// <remarks>
/// Framing (tpm-lab.md): <c>u32 8 | u8 locality | u32 length | command</c> → <c>u32 length | response | u32 0</c>.
/// Platform port: <c>u32 1</c> (power on) and <c>u32 11</c> (NV on), each answered with <c>u32 0</c>. After power-on the
/// TPM needs TPM2_Startup, which the TPM identity sends. swtpm accepts the framing on its data port but not the
/// platform commands, so with swtpm set <see cref="TpmTransportOptions.SimulatorPowerOn"/> to false.
/// </remarks>
internal sealed class MssimTpmTransport(string host, int port, int platformPort, TpmTransportOptions options)
    : StreamTpmTransport(options, $"mssim:{host}:{port}")
{
    private const uint SendCommand = 8;
    private const uint PowerOn = 1;
    private const uint NvOn = 11;
    private const uint SessionEnd = 20;

    protected override async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        if (Options.SimulatorPowerOn)
        {
            await using var platform = await TcpConnector.ConnectAsync(host, platformPort, $"mssim platform port {host}:{platformPort}", cancellationToken).ConfigureAwait(false);
            await PlatformCommandAsync(platform, PowerOn, "power-on", cancellationToken).ConfigureAwait(false);
            await PlatformCommandAsync(platform, NvOn, "NV-on", cancellationToken).ConfigureAwait(false);
            await WriteUInt32Async(platform, SessionEnd, cancellationToken).ConfigureAwait(false);
        }

        return await TcpConnector.ConnectAsync(host, port, Description, cancellationToken).ConfigureAwait(false);
    }

    protected override async ValueTask WriteCommandAsync(Stream stream, ReadOnlyMemory<byte> command, CancellationToken cancellationToken)
    {
        var header = new byte[9];
        BinaryPrimitives.WriteUInt32BigEndian(header, SendCommand);
        header[4] = Options.Locality;
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(5), (uint)command.Length);
        await stream.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(command, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    protected override async ValueTask<byte[]> ReadResponseAsync(Stream stream, bool firstExchange, CancellationToken cancellationToken)
    {
        var length = await ReadUInt32Async(stream, cancellationToken).ConfigureAwait(false);
        if (length >> 16 is 0x8001 or 0x8002)
        {
            // A raw TPM response where the simulator sends a length: the peer takes raw commands (swtpm or similar).
            var first = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(first, length);
            throw WrongFraming(first, $"It answered with a raw TPM 2.0 response, not the simulator's length-prefixed one: use swtpm:{host}:{port}.");
        }

        if (length < TpmMessage.HeaderSize || length > MaxMessageSize)
        {
            throw new TpmFormatException($"The simulator at {Description} announced a {length}-byte response.");
        }

        var response = new byte[length];
        await ReadExactlyAsync(stream, response, cancellationToken).ConfigureAwait(false);
        var ack = await ReadUInt32Async(stream, cancellationToken).ConfigureAwait(false);
        if (ack != 0)
        {
            throw new TpmException($"The simulator at {Description} ended a response with status {ack}.");
        }

        TpmMessage.PeekSize(response, (int)length);
        return response;
    }

    protected override async ValueTask OnClosingAsync(Stream stream)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await WriteUInt32Async(stream, SessionEnd, cts.Token).ConfigureAwait(false);
    }

    protected override string? BusyHint => "or, as the simulator serves one client at a time, another client holds it";

    private async ValueTask PlatformCommandAsync(NetworkStream platform, uint command, string name, CancellationToken cancellationToken)
    {
        await WriteUInt32Async(platform, command, cancellationToken).ConfigureAwait(false);
        var status = await ReadUInt32Async(platform, cancellationToken).ConfigureAwait(false);
        if (status != 0)
        {
            // swtpm's control channel (data port + 1) reads power-on as CMD_GET_CAPABILITY and answers 8 bytes, so NV-on
            // reads the second half of its capability mask as a status.
            throw new TpmException(
                $"The simulator's platform port {host}:{platformPort} refused {name} (status 0x{status:X8}). A Microsoft simulator platform port "
                + $"answers 0; this peer does not speak that protocol. If it is swtpm (whose control port this may be), use swtpm:{host}:{port}: "
                + "swtpm takes raw commands and needs no power-on (or keep mssim: with TpmTransportOptions.SimulatorPowerOn = false).");
        }
    }

    private static async ValueTask WriteUInt32Async(Stream stream, uint value, CancellationToken cancellationToken)
    {
        var four = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(four, value);
        try
        {
            await stream.WriteAsync(four, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            throw new IOException(e.Message, e);
        }
    }
}

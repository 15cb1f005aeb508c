using System.Buffers.Binary;
using System.Net.Sockets;

namespace Provisioning.Device.Tpm;

/// <summary>Just enough of swtpm's control channel (tpm-lab.md "What it speaks": <c>u32 cmd | payload</c> → <c>u32 result | data</c>)
/// to recognise it and to ask whether a silent swtpm is alive.</summary>
internal static class SwtpmControl
{
    /// <summary>CMD_GET_CAPABILITY: no payload; answers a 64-bit capability mask.</summary>
    private const uint GetCapability = 1;

    /// <summary>How long the liveness probe waits, once the command's own deadline has passed.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Whether the first bytes of an answer look like a control-channel result: a big-endian UINT32 below 0x10000
    /// (swtpm answers a TPM command on its control channel with 0x0000000A, TPM_BAD_ORDINAL).</summary>
    public static bool LooksLikeControlResult(ReadOnlySpan<byte> received)
        => received.Length >= 2 && received[0] == 0 && received[1] == 0;

    /// <summary>The result code in the first bytes, for messages.</summary>
    public static string Result(ReadOnlySpan<byte> received)
        => received.Length >= 4 ? $"0x{BinaryPrimitives.ReadUInt32BigEndian(received):X8}" : Convert.ToHexString(received);

    /// <summary>Whether swtpm's control channel at <paramref name="host"/>:<paramref name="port"/> answers CMD_GET_CAPABILITY
    /// within a few seconds: it is served by the same process as the data channel, even while another client holds that.</summary>
    public static async ValueTask<bool> AnswersAsync(string host, int port)
    {
        using var cts = new CancellationTokenSource(ProbeTimeout);
        using var client = new TcpClient { NoDelay = true };
        try
        {
            await client.ConnectAsync(host, port, cts.Token).ConfigureAwait(false);
            var stream = client.GetStream();
            var command = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(command, GetCapability);
            await stream.WriteAsync(command, cts.Token).ConfigureAwait(false);
            // The 64-bit capability mask: a peer that answers anything shorter is not swtpm's control channel.
            var answer = new byte[8];
            await stream.ReadExactlyAsync(answer, cts.Token).ConfigureAwait(false);
            return true;
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }
}

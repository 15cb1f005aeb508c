using System.Net.Sockets;

namespace Provisioning.Device.Tpm;

/// <summary>swtpm's data port over TCP: raw command bytes in, response bytes out, many commands per connection.</summary>
/// <remarks>tpm-lab.md "What it speaks". swtpm serves one client at a time; its control port is not needed for commands.</remarks>
internal sealed class TcpTpmTransport(string host, int port, TpmTransportOptions options)
    : StreamTpmTransport(options, $"swtpm:{host}:{port}")
{
    protected override async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
        => await TcpConnector.ConnectAsync(host, port, Description, cancellationToken).ConfigureAwait(false);
}

/// <summary>Opens a TCP connection with a readable error when nothing listens.</summary>
internal static class TcpConnector
{
    public static async ValueTask<NetworkStream> ConnectAsync(string host, int port, string description, CancellationToken cancellationToken)
    {
        var client = new TcpClient { NoDelay = true };
        try
        {
            await client.ConnectAsync(host, port, cancellationToken).ConfigureAwait(false);
            return client.GetStream();
        }
        catch (SocketException e)
        {
            client.Dispose();
            throw new TpmException($"No TPM answers at {description} ({e.SocketErrorCode}): is the TPM simulator running on that port?", e);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }
}

using System.Net.Sockets;

namespace Provisioning.Device.Tpm;

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
            throw new TpmException($"No TPM answers at {description} ({e.SocketErrorCode}): nothing accepts connections there. Is the TPM simulator running on that port?", e)
            {
                IsBusy = true,
            };
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }
}

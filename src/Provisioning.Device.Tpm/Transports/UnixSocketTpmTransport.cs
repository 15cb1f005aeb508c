using System.Net.Sockets;

namespace Provisioning.Device.Tpm;

/// <summary>Raw TPM commands over a Unix stream socket, e.g. <c>swtpm socket --server type=unixio,path=…</c>.</summary>
internal sealed class UnixSocketTpmTransport(string path, TpmTransportOptions options)
    : StreamTpmTransport(options, $"unix:{path}")
{
    protected override bool ReleasableBetweenCommands => true;

    protected override async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).ConfigureAwait(false);
            return new NetworkStream(socket, ownsSocket: true);
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw new TpmException($"No TPM answers on the Unix socket {path} ({e.SocketErrorCode}): nothing accepts connections there.", e)
            {
                IsBusy = true,
            };
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    protected override string? BusyHint
        => "or, as swtpm serves one client at a time, another client (tpm2-abrmd, a tpm2-tools command, another program) holds the socket";

    protected override string? WrongFramingHint(ReadOnlySpan<byte> received)
        => SwtpmControl.LooksLikeControlResult(received)
            ? $"It answered like swtpm's control channel (result {SwtpmControl.Result(received)}): {path} is the socket of --ctrl type=unixio; point unix: at the socket of --server type=unixio instead."
            : null;
}

namespace Provisioning.Device.Tpm;

/// <summary>swtpm's data port over TCP: raw command bytes in, response bytes out, many commands per connection.</summary>
/// <remarks>tpm-lab.md "What it speaks". swtpm serves one client at a time; its control port is not needed for commands.</remarks>
internal sealed class TcpTpmTransport(string host, int port, TpmTransportOptions options)
    : StreamTpmTransport(options, $"swtpm:{host}:{port}")
{
    protected override async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
        => await TcpConnector.ConnectAsync(host, port, Description, cancellationToken).ConfigureAwait(false);
}

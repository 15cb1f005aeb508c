namespace Provisioning.Device.Tpm;

/// <summary>swtpm's data port over TCP: raw command bytes in, response bytes out, many commands per connection.</summary>
/// <remarks>tpm-lab.md "What it speaks". swtpm serves one client at a time; its control port (data port + 1) is not needed for
/// commands, but when the data port stays silent it tells a busy swtpm (control answers) from a stopped one (nothing does).</remarks>
internal sealed class TcpTpmTransport(string host, int port, TpmTransportOptions options)
    : StreamTpmTransport(options, $"swtpm:{host}:{port}")
{
    protected override bool ReleasableBetweenCommands => true;

    protected override async ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
        => await TcpConnector.ConnectAsync(host, port, Description, cancellationToken).ConfigureAwait(false);

    protected override async ValueTask<Exception> DescribeSilenceAsync(string command, TimeSpan deadline, bool firstExchange)
    {
        if (firstExchange && port < 65535 && await SwtpmControl.AnswersAsync(host, port + 1).ConfigureAwait(false))
        {
            return new TpmException(
                $"The TPM at {Description} is busy: it accepted the connection but did not take TPM2_{command} within {Seconds(deadline)}, while its "
                + $"control port {port + 1} answers. swtpm serves one client at a time and another client holds it (tpm2-abrmd, a tpm2-tools "
                + "command, another device program). Close that client or try again later.")
            {
                IsBusy = true,
            };
        }

        return NotAnswering(command, deadline, firstExchange
            ? "if it is the Microsoft reference simulator, use mssim:" + Endpoint + " (it takes framed commands only)"
            : null);
    }

    protected override string? WrongFramingHint(ReadOnlySpan<byte> received)
        => SwtpmControl.LooksLikeControlResult(received)
            ? $"It answered like swtpm's control channel (result {SwtpmControl.Result(received)}): port {port} looks like swtpm's --ctrl port. "
                + $"Use the --server port instead (by convention the one below: swtpm:{host}:{port - 1})."
            : $"If it is the Microsoft reference simulator, use mssim:{Endpoint}.";

    protected override string? ClosedOnFirstCommandHint
        => $"The Microsoft reference simulator closes the connection on a raw TPM command: if that is what listens there, use mssim:{Endpoint}.";

    private string Endpoint => host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{port}" : $"{host}:{port}";
}

using System.Net;
using System.Security.Cryptography.X509Certificates;

using Provisioning.Emulator.Portal;

namespace Provisioning.Emulator;

/// <summary>The operator's portal (<see cref="DpsEmulatorOptions.PortalPort"/>): its own HTTPS listener, opened with a token.</summary>
public sealed partial class DpsEmulator
{
    private PortalServer? _portal;
    private X509Certificate2? _portalCertificate;
    private RegistrationAttempts? _attempts;

    /// <summary>The device operations (the portal shows a registration still assigning as such).</summary>
    internal Device.OperationStore? Operations { get; private set; }

    /// <summary>The portal's address with its access token (<c>https://localhost:{port}/?token=…</c>), or null when it is off.</summary>
    /// <remarks>Whoever has this address can change enrollments: it is printed at start and written to <c>emulator.json</c>
    /// (<c>portalUrl</c>), nowhere else.</remarks>
    public Uri? PortalUrl => _portal?.Url;

    private async Task StartPortalAsync(DpsEmulatorOptions options, CancellationToken cancellationToken)
    {
        if (options.PortalPort is not { } port)
        {
            return;
        }

        var address = options.PortalAddress;
        List<string> names = [options.HostName, "localhost", "127.0.0.1", "::1"];
        if (!address.Equals(IPAddress.Any) && !address.Equals(IPAddress.IPv6Any))
        {
            names.Add(address.ToString());
        }

        _portalCertificate = CertificateAuthority.IssueServerCertificate([.. names.Distinct(StringComparer.OrdinalIgnoreCase)]);
        _portal = await PortalServer.StartAsync(this, _store, _attempts!, _portalCertificate, address, port, options.HostName, options.LoggerFactory, options.TimeProvider,
            _dataDirectory is null ? null : Path.Combine(_dataDirectory, InfoFileName), cancellationToken).ConfigureAwait(false);
    }

    private async Task StopPortalAsync()
    {
        if (Interlocked.Exchange(ref _portal, null) is { } portal)
        {
            await portal.DisposeAsync().ConfigureAwait(false);
        }

        Interlocked.Exchange(ref _portalCertificate, null)?.Dispose();
    }
}

using System.Globalization;

namespace Provisioning.Device.Tpm;

/// <summary>Parses transport spec strings; the one place that knows every kind of TPM.</summary>
internal static class TpmTransportSpec
{
    public static TpmTransport Open(string spec, TpmTransportOptions options)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(spec);
        var colon = spec.IndexOf(':', StringComparison.Ordinal);
        var kind = (colon < 0 ? spec : spec[..colon]).Trim().ToLowerInvariant();
        var rest = colon < 0 ? null : spec[(colon + 1)..];
        switch (kind)
        {
            case "device" when OperatingSystem.IsWindows():
                return rest is null
                    ? new TbsTpmTransport(new WindowsTbs(), options)
                    : throw new ArgumentException(
                        $"TPM transport '{spec}': on Windows the TPM is reached through TPM Base Services; use 'device' without a path.", nameof(spec));
            case "device":
                return rest is null
                    ? new DeviceTpmTransport(DeviceTpmTransport.DefaultPaths, options)
                    : new DeviceTpmTransport([RequirePath(rest, spec)], options);
            case "swtpm":
            {
                var (host, port) = HostAndPort(rest, spec);
                return new TcpTpmTransport(host, port, options);
            }

            case "mssim":
            {
                var (host, port) = HostAndPort(rest, spec);
                return new MssimTpmTransport(host, port, options.SimulatorPlatformPort ?? port + 1, options);
            }

            case "unix":
                return new UnixSocketTpmTransport(RequirePath(rest, spec), options);
            case "software":
                return new SoftwareTpmTransport(rest is null ? null : RequirePath(rest, spec));
            default:
                throw new ArgumentException(
                    $"Unknown TPM transport '{spec}'. Use device[:<path>], swtpm:<host>:<port>, mssim:<host>:<port>, unix:<path> or software[:<state-dir>].",
                    nameof(spec));
        }
    }

    private static string RequirePath(string? path, string spec)
        => string.IsNullOrWhiteSpace(path) ? throw new ArgumentException($"TPM transport '{spec}' needs a path after the colon.", nameof(spec)) : path;

    private static (string Host, int Port) HostAndPort(string? rest, string spec)
    {
        // The port follows the last colon, so a bracketed IPv6 host ([::1]:2321) also works.
        var colon = rest?.LastIndexOf(':') ?? -1;
        if (rest is null || colon <= 0
            || !int.TryParse(rest.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port)
            || port is < 1 or > 65535)
        {
            throw new ArgumentException($"TPM transport '{spec}' needs <host>:<port> with a port from 1 to 65535.", nameof(spec));
        }

        return (rest[..colon].Trim('[', ']'), port);
    }
}

namespace Provisioning.Device.Tpm;

/// <summary>Settings of a <see cref="TpmTransport"/>.</summary>
public sealed class TpmTransportOptions
{
    private TimeSpan _timeout = TimeSpan.FromMinutes(5);
    private TimeSpan _connectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long one command may take. Long by default: RSA key generation on a real TPM takes seconds, on some parts minutes.</summary>
    public TimeSpan Timeout
    {
        get => _timeout;
        set => _timeout = value > TimeSpan.Zero || value == System.Threading.Timeout.InfiniteTimeSpan
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), "The timeout must be positive or infinite.");
    }

    /// <summary>How long connecting to a TPM (socket or device) may take.</summary>
    public TimeSpan ConnectTimeout
    {
        get => _connectTimeout;
        set => _connectTimeout = value > TimeSpan.Zero
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), "The connect timeout must be positive.");
    }

    /// <summary>The locality sent with each command to the Microsoft simulator (0–4).</summary>
    public byte Locality { get; set; }

    /// <summary>The Microsoft simulator's platform port; null means the command port + 1 (2322 for 2321).</summary>
    public int? SimulatorPlatformPort { get; set; }

    /// <summary>Whether to send power-on and NV-on to the Microsoft simulator's platform port on connect (as its samples do).</summary>
    public bool SimulatorPowerOn { get; set; } = true;
}

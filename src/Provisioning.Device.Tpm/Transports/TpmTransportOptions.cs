namespace Provisioning.Device.Tpm;

/// <summary>Settings of a <see cref="TpmTransport"/>.</summary>
/// <remarks>Deadlines fit the command: quick commands (everything but key generation) get <see cref="Timeout"/>, so a TPM
/// that stopped answering is reported within seconds; TPM2_CreatePrimary, TPM2_Create and TPM2_CreateLoaded get
/// <see cref="KeyGenerationTimeout"/>, because RSA key generation on a real TPM takes seconds, on some parts minutes.</remarks>
public sealed class TpmTransportOptions
{
    /// <summary>The default deadline of a quick command: 25 s, so that a TPM that stopped answering is reported within 30 s
    /// even where up to 5 s more go to asking swtpm's control port whether it is merely busy.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(25);

    /// <summary>The default deadline of a key-generating command: 5 minutes.</summary>
    public static readonly TimeSpan DefaultKeyGenerationTimeout = TimeSpan.FromMinutes(5);

    /// <summary>TPM2_CreateLoaded (Part 3 §12.9), not otherwise used here.</summary>
    private const uint CreateLoaded = 0x0000_0191;

    private TimeSpan _timeout = DefaultTimeout;
    private TimeSpan _keyGenerationTimeout = DefaultKeyGenerationTimeout;
    private TimeSpan _connectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>How long a quick command (anything but key generation) may take; 25 s by default.</summary>
    public TimeSpan Timeout
    {
        get => _timeout;
        set => _timeout = CheckDeadline(value);
    }

    /// <summary>How long a key-generating command (TPM2_CreatePrimary, TPM2_Create, TPM2_CreateLoaded) may take; 5 minutes by
    /// default. A value shorter than <see cref="Timeout"/> is raised to it.</summary>
    public TimeSpan KeyGenerationTimeout
    {
        get => _keyGenerationTimeout;
        set => _keyGenerationTimeout = CheckDeadline(value);
    }

    /// <summary>How long connecting to a TPM (socket or device) may take.</summary>
    public TimeSpan ConnectTimeout
    {
        get => _connectTimeout;
        set => _connectTimeout = value > TimeSpan.Zero
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), "The connect timeout must be positive.");
    }

    /// <summary>Whether a swtpm transport (<c>swtpm:</c> over TCP, <c>unix:</c>) closes its connection after each command, so
    /// other clients of a TPM that serves one connection at a time can take turns with it: OpenSSL's tpm2 provider signing a
    /// TLS handshake with a TPM-resident certificate key, tpm2-tools. Default false: one connection for the transport's life
    /// (a command then costs no connect). Other transports ignore it (<c>/dev/tpmrm0</c> serves many clients).</summary>
    public bool ReleaseConnectionBetweenCommands { get; set; }

    /// <summary>The locality sent with each command to the Microsoft simulator (0–4).</summary>
    public byte Locality { get; set; }

    /// <summary>The Microsoft simulator's platform port; null means the command port + 1 (2322 for 2321).</summary>
    public int? SimulatorPlatformPort { get; set; }

    /// <summary>Whether to send power-on and NV-on to the Microsoft simulator's platform port on connect (as its samples do).</summary>
    public bool SimulatorPowerOn { get; set; } = true;

    /// <summary>The deadline of one command: <see cref="KeyGenerationTimeout"/> for key generation, else <see cref="Timeout"/>.</summary>
    /// <param name="command">The command code.</param>
    public TimeSpan TimeoutFor(TpmCommandCode command)
    {
        if (command is not (TpmCommandCode.CreatePrimary or TpmCommandCode.Create) && (uint)command != CreateLoaded)
        {
            return _timeout;
        }

        if (_timeout == System.Threading.Timeout.InfiniteTimeSpan || _keyGenerationTimeout == System.Threading.Timeout.InfiniteTimeSpan)
        {
            return System.Threading.Timeout.InfiniteTimeSpan;
        }

        return _keyGenerationTimeout > _timeout ? _keyGenerationTimeout : _timeout;
    }

    private static TimeSpan CheckDeadline(TimeSpan value)
        => value > TimeSpan.Zero || value == System.Threading.Timeout.InfiniteTimeSpan
            ? value
            : throw new ArgumentOutOfRangeException(nameof(value), "The timeout must be positive or infinite.");
}

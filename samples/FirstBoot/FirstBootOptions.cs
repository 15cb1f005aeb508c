namespace Provisioning.Samples.FirstBoot;

/// <summary>How the device proves its identity.</summary>
internal enum AttestationKind
{
    Tpm,
    Symmetric,
    X509,
}

/// <summary>The wire protocol to DPS.</summary>
internal enum DpsTransport
{
    Https,
    Mqtt,

    /// <summary>MQTT over WebSockets (<c>wss</c>, port 443 on Azure).</summary>
    MqttWebSockets,

    /// <summary>AMQP over TLS (port 5671 on Azure); TPM included, its challenge travels in SASL.</summary>
    Amqp,

    /// <summary>AMQP over WebSockets (<c>wss</c>, port 443 on Azure).</summary>
    AmqpWebSockets,
}

/// <summary>FirstBoot's arguments. Parsing checks every combination up front, before any TPM or network is touched.</summary>
internal sealed class FirstBootOptions
{
    public const string Usage = """
        usage: FirstBoot [options]
          With no options: an embedded DPS emulator with two hubs, a software TPM in ~/.provisioning-device/firstboot,
          TPM attestation over HTTPS, one telemetry message. A second run boots from the registration cache.

          --attestation tpm|symmetric|x509   how the device proves its identity (default tpm)
          --transport https|mqtt|mqtt-ws|amqp|amqp-ws
                                             the protocol to DPS (default https; -ws is over WebSockets;
                                             DPS rejects TPM over MQTT, takes it over HTTPS and AMQP)
          --tpm <spec>                       the TPM: software[:<dir>], device[:<path>], swtpm:<host>:<port>,
                                             mssim:<host>:<port>, unix:<path> (default: a software TPM in the state folder)
          --owner-auth <value>               the TPM's owner hierarchy password, if one was set (tpm2_changeauth -c o)
          --endorsement-auth <value>         the TPM's endorsement hierarchy password, if one was set (tpm2_changeauth -c e)
                                             <value>: str:<text>, hex:<hex>, file:<path> or env:<NAME>; never printed
          --tpm-timeout <seconds>            how long a quick TPM command may take (default 25; key generation gets 5 min)
          --payload <json>                   JSON sent with the registration (DPS 'payload', seen by custom allocation)
          --message <json>                   the telemetry body (default a small reading)
          --reprovision                      ignore the registration cache and ask DPS again
          --csr [ecc|rsa|rsa3072]            ask DPS for a certificate (api 2025-07-01-preview): the registration carries a
                                             CSR (default ECC P-256) and the hub is reached with the issued certificate
          --key-location tpm|software        where the certificate key lives (default: the TPM for a device or swtpm TPM,
                                             else a key file beside the registration cache, owner-only)
          --state <dir>                      the state folder (default ~/.provisioning-device/firstboot)
          --json                             end standard output with one JSON line describing the outcome
          --verbose                          client logs, and stack traces with errors

          A real Azure DPS instead of the emulator:
          --global-endpoint <host>           e.g. global.azure-devices-provisioning.net
          --id-scope <scope>                 the DPS ID scope, e.g. 0ne00000001
          --registration-id <id>             symmetric key; for tpm the EK-derived id is the default
          --symmetric-key <base64>           an individual enrollment's primary key
          --group-key <base64>               an enrollment group's primary key (the device key is derived)
          --certificate <pfx|pem>            the device certificate with its private key (x509; a PEM holds both)
          --trusted-ca <pem>                 an extra root trusted for DPS and hub TLS (a private CA)
          --hub-address <hub>=<host:port>    dial that hub at host:port, keeping its name for TLS (repeatable)

          An emulator run on its own (dotnet run --project src/Provisioning.Emulator -- --data <dir>):
          --emulator <emulator.json>         its endpoint, ID scope, CA and hub addresses, from the file it writes
          --enroll                           enroll this device first through its service API (FirstBoot makes and keeps
                                             the credentials, as with the embedded emulator)
        """;

    public AttestationKind Attestation { get; private set; } = AttestationKind.Tpm;

    public DpsTransport Transport { get; private set; } = DpsTransport.Https;

    public string? Tpm { get; private set; }

    /// <summary><c>--owner-auth</c> as given (e.g. <c>env:NAME</c>): read when the TPM is opened, never printed.</summary>
    public string? OwnerAuth { get; private set; }

    /// <summary><c>--endorsement-auth</c> as given: read when the TPM is opened, never printed.</summary>
    public string? EndorsementAuth { get; private set; }

    /// <summary><c>--tpm-timeout</c>: the deadline of a quick TPM command.</summary>
    public TimeSpan? TpmTimeout { get; private set; }

    public string? Payload { get; private set; }

    public string? Message { get; private set; }

    public bool Reprovision { get; private set; }

    /// <summary><c>--csr</c>: the certificate key's algorithm, or null for no certificate issuance.</summary>
    public Provisioning.Device.CertificateKeyAlgorithm? Csr { get; private set; }

    /// <summary><c>--key-location</c>, or null for the default.</summary>
    public Provisioning.Device.CertificateKeyLocation? KeyLocation { get; private set; }

    public string? StateDirectory { get; private set; }

    public bool Json { get; private set; }

    public bool Verbose { get; private set; }

    public bool Help { get; private set; }

    public string? GlobalEndpoint { get; private set; }

    public string? IdScope { get; private set; }

    public string? RegistrationId { get; private set; }

    public string? SymmetricKey { get; private set; }

    public string? GroupKey { get; private set; }

    public string? Certificate { get; private set; }

    public string? TrustedCa { get; private set; }

    /// <summary><c>--hub-address</c>: hub host name → <c>host:port</c> dialled.</summary>
    public IDictionary<string, string> HubAddresses { get; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The <c>emulator.json</c> of a separately run emulator.</summary>
    public string? EmulatorFile { get; private set; }

    /// <summary>Enroll through the separately run emulator's service API before registering.</summary>
    public bool Enroll { get; private set; }

    /// <summary>Whether to talk to a real (or separately run) DPS rather than the embedded emulator.</summary>
    public bool UsesRemoteDps => GlobalEndpoint is not null || EmulatorFile is not null;

    /// <summary>Whether FirstBoot makes (and keeps) the device's credentials, rather than being given them.</summary>
    public bool MakesOwnCredentials => !UsesRemoteDps || Enroll;

    public string AttestationName => Attestation switch
    {
        AttestationKind.Symmetric => "symmetric",
        AttestationKind.X509 => "x509",
        _ => "tpm",
    };

    public string TransportName => Transport switch
    {
        DpsTransport.Mqtt => "mqtt",
        DpsTransport.MqttWebSockets => "mqtt-ws",
        DpsTransport.Amqp => "amqp",
        DpsTransport.AmqpWebSockets => "amqp-ws",
        _ => "https",
    };

    /// <summary>Parses; a problem is reported in <paramref name="error"/> (one line, no usage).</summary>
    public static FirstBootOptions Parse(string[] args, out string? error)
    {
        // --json holds even when another argument is wrong: the report of that mistake is a JSON line too.
        var options = new FirstBootOptions { Json = args.Contains("--json") };
        string? problem = null;
        for (var i = 0; i < args.Length && problem is null; i++)
        {
            var name = args[i];
            string? Value()
            {
                if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    return args[++i];
                }

                problem = $"{name} needs a value";
                return null;
            }

            switch (name)
            {
                case "--attestation":
                    var attestation = Value();
                    options.Attestation = attestation switch
                    {
                        "tpm" => AttestationKind.Tpm,
                        "symmetric" or "symmetric-key" => AttestationKind.Symmetric,
                        "x509" => AttestationKind.X509,
                        _ => Fail(ref problem, $"--attestation must be tpm, symmetric or x509, not '{attestation}'", options.Attestation),
                    };
                    break;
                case "--transport":
                    var transport = Value();
                    options.Transport = transport switch
                    {
                        "https" or "http" => DpsTransport.Https,
                        "mqtt" => DpsTransport.Mqtt,
                        "mqtt-ws" or "mqtt-websockets" => DpsTransport.MqttWebSockets,
                        "amqp" => DpsTransport.Amqp,
                        "amqp-ws" or "amqp-websockets" => DpsTransport.AmqpWebSockets,
                        _ => Fail(ref problem, $"--transport must be https, mqtt, mqtt-ws, amqp or amqp-ws, not '{transport}'", options.Transport),
                    };
                    break;
                case "--tpm": options.Tpm = Value(); break;
                case "--owner-auth": options.OwnerAuth = Value(); break;
                case "--endorsement-auth": options.EndorsementAuth = Value(); break;
                case "--tpm-timeout":
                    var seconds = Value();
                    if (seconds is not null)
                    {
                        options.TpmTimeout = double.TryParse(seconds, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0 && s <= 86_400
                            ? TimeSpan.FromSeconds(s)
                            : Fail<TimeSpan?>(ref problem, $"--tpm-timeout takes a number of seconds above 0 (at most 86400), not '{seconds}'", null);
                    }

                    break;
                case "--payload": options.Payload = Value(); break;
                case "--message": options.Message = Value(); break;
                case "--state": options.StateDirectory = Value(); break;
                case "--global-endpoint": options.GlobalEndpoint = Value(); break;
                case "--id-scope": options.IdScope = Value(); break;
                case "--registration-id": options.RegistrationId = Value(); break;
                case "--symmetric-key": options.SymmetricKey = Value(); break;
                case "--group-key": options.GroupKey = Value(); break;
                case "--certificate": options.Certificate = Value(); break;
                case "--trusted-ca": options.TrustedCa = Value(); break;
                case "--hub-address":
                    var mapping = Value();
                    if (mapping is not null)
                    {
                        var eq = mapping.IndexOf('=', StringComparison.Ordinal);
                        if (eq <= 0 || eq == mapping.Length - 1 || !mapping.AsSpan(eq + 1).Contains(':'))
                        {
                            problem = $"--hub-address takes <hub host name>=<host:port>, not '{mapping}'";
                        }
                        else
                        {
                            options.HubAddresses[mapping[..eq]] = mapping[(eq + 1)..];
                        }
                    }

                    break;
                case "--emulator": options.EmulatorFile = Value(); break;
                case "--enroll": options.Enroll = true; break;
                case "--reprovision": options.Reprovision = true; break;
                case "--csr":
                    // The algorithm is optional: "--csr" alone means ECC P-256.
                    var algorithm = i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal) ? args[++i] : "ecc";
                    options.Csr = algorithm.ToLowerInvariant() switch
                    {
                        "ecc" => Provisioning.Device.CertificateKeyAlgorithm.EccP256,
                        "rsa" or "rsa2048" => Provisioning.Device.CertificateKeyAlgorithm.Rsa2048,
                        "rsa3072" => Provisioning.Device.CertificateKeyAlgorithm.Rsa3072,
                        _ => Fail(ref problem, $"--csr takes ecc, rsa or rsa3072, not '{algorithm}'", options.Csr),
                    };
                    break;
                case "--key-location":
                    var location = Value();
                    options.KeyLocation = location?.ToLowerInvariant() switch
                    {
                        "tpm" => Provisioning.Device.CertificateKeyLocation.Tpm,
                        "software" => Provisioning.Device.CertificateKeyLocation.Software,
                        _ => Fail(ref problem, $"--key-location must be tpm or software, not '{location}'", options.KeyLocation),
                    };
                    break;
                case "--json": options.Json = true; break;
                case "--verbose" or "-v": options.Verbose = true; break;
                case "--help" or "-h": options.Help = true; break;
                default: problem = $"unexpected argument '{name}'"; break;
            }
        }

        error = problem;
        return options.Check(ref error);
    }

    private FirstBootOptions Check(ref string? error)
    {
        if (error is not null || Help)
        {
            return this;
        }

        // DPS has no TPM over MQTT (dps-protocol.md §5): refuse before any TPM or network work.
        if (Attestation == AttestationKind.Tpm && Transport is DpsTransport.Mqtt or DpsTransport.MqttWebSockets)
        {
            error = "TPM attestation needs HTTPS: the Device Provisioning Service does not support TPM over MQTT (its 401 challenge exists only over HTTPS and AMQP); use --transport https, or --attestation symmetric|x509 with mqtt";
        }
        else if (KeyLocation is not null && Csr is null)
        {
            error = "--key-location applies with --csr only";
        }
        else if (KeyLocation == Provisioning.Device.CertificateKeyLocation.Tpm && Attestation != AttestationKind.Tpm)
        {
            error = "--key-location tpm needs --attestation tpm (the TPM that holds the key); use --key-location software with symmetric or x509";
        }
        else if (Tpm is not null && Attestation != AttestationKind.Tpm)
        {
            error = "--tpm applies to --attestation tpm only";
        }
        else if (((OwnerAuth ?? EndorsementAuth) is not null || TpmTimeout is not null) && Attestation != AttestationKind.Tpm)
        {
            error = "--owner-auth, --endorsement-auth and --tpm-timeout apply to --attestation tpm only";
        }
        else if (HierarchyAuthProblem() is { } authProblem)
        {
            error = authProblem;
        }
        else if (Payload is not null && !IsJson(Payload))
        {
            error = "--payload is not valid JSON";
        }
        else if (Message is not null && !IsJson(Message))
        {
            error = "--message is not valid JSON";
        }
        else if (EmulatorFile is not null && (GlobalEndpoint ?? IdScope ?? TrustedCa) is not null)
        {
            error = "--emulator gives the endpoint, ID scope and CA: leave out --global-endpoint, --id-scope and --trusted-ca";
        }
        else if ((GlobalEndpoint is not null) != (IdScope is not null))
        {
            error = "--global-endpoint and --id-scope go together";
        }
        else if (Enroll && EmulatorFile is null)
        {
            error = "--enroll needs --emulator <emulator.json> (it enrolls through that emulator's service API)";
        }
        else if (MakesOwnCredentials && (RegistrationId ?? SymmetricKey ?? GroupKey ?? Certificate) is not null)
        {
            error = "--registration-id, --symmetric-key, --group-key and --certificate are for a DPS where the device is already enrolled (--global-endpoint, or --emulator without --enroll): FirstBoot makes its own credentials otherwise";
        }
        else if (!UsesRemoteDps && HubAddresses.Count > 0)
        {
            error = "--hub-address is for a DPS run elsewhere: the embedded emulator knows its hubs' addresses";
        }
        else if (!MakesOwnCredentials && Attestation == AttestationKind.Symmetric && (RegistrationId is null || (SymmetricKey is null) == (GroupKey is null)))
        {
            error = "symmetric key attestation with a real DPS needs --registration-id and one of --symmetric-key or --group-key";
        }
        else if (!MakesOwnCredentials && Attestation == AttestationKind.X509 && Certificate is null)
        {
            error = "x509 attestation with a real DPS needs --certificate <pfx|pem>";
        }

        return this;
    }

    /// <summary>Reads the hierarchy passwords once up front (env:, file:, hex: mistakes are reported before any TPM or network
    /// work) and forgets them at once; the message never holds the value.</summary>
    private string? HierarchyAuthProblem()
    {
        foreach (var (value, flag) in new[] { (OwnerAuth, "--owner-auth"), (EndorsementAuth, "--endorsement-auth") })
        {
            if (value is null)
            {
                continue;
            }

            try
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(Provisioning.Device.Tpm.TpmAuthValue.Parse(value, flag));
            }
            catch (ArgumentException e)
            {
                return e.Message.Replace($" (Parameter '{e.ParamName}')", string.Empty, StringComparison.Ordinal);
            }
        }

        return null;
    }

    private static T Fail<T>(ref string? error, string message, T current)
    {
        error ??= message;
        return current;
    }

    private static bool IsJson(string text)
    {
        try
        {
            using var document = System.Text.Json.JsonDocument.Parse(text);
            return true;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }
}

using System.CommandLine;
using System.CommandLine.Parsing;

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
    private static readonly Lazy<string> HelpText = new(() => Render(["--help"]));

    /// <summary>The help text (System.CommandLine's).</summary>
    public static string Usage => HelpText.Value;

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
    /// <remarks>System.CommandLine (no reflection binding: AOT and trim clean); what it reports is reworded so that no
    /// secret (a misplaced password or key) is ever echoed.</remarks>
    public static FirstBootOptions Parse(string[] args, out string? error)
    {
        // --json holds even when another argument is wrong: the report of that mistake is a JSON line too.
        var options = new FirstBootOptions { Json = args.Contains("--json") };
        var syntax = new Syntax();
        var result = syntax.Root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        if (result.Action is System.CommandLine.Help.HelpAction)
        {
            options.Help = true;
            error = null;
            return options;
        }

        if (result.Errors.Count > 0)
        {
            error = Describe(result.Errors[0], args);
            return options;
        }

        options.Attestation = result.GetValue(syntax.Attestation);
        options.Transport = result.GetValue(syntax.Transport);
        options.Tpm = result.GetValue(syntax.Tpm);
        options.OwnerAuth = result.GetValue(syntax.OwnerAuth);
        options.EndorsementAuth = result.GetValue(syntax.EndorsementAuth);
        options.TpmTimeout = result.GetValue(syntax.TpmTimeout);
        options.Payload = result.GetValue(syntax.Payload);
        options.Message = result.GetValue(syntax.Message);
        options.Reprovision = result.GetValue(syntax.Reprovision);
        options.Csr = result.GetResult(syntax.Csr) is { } csr ? CsrAlgorithm(csr.Tokens.Count == 0 ? "ecc" : csr.Tokens[^1].Value) : null;
        options.KeyLocation = result.GetValue(syntax.KeyLocation);
        options.StateDirectory = result.GetValue(syntax.State);
        options.Verbose = result.GetValue(syntax.Verbose);
        options.GlobalEndpoint = result.GetValue(syntax.GlobalEndpoint);
        options.IdScope = result.GetValue(syntax.IdScope);
        options.RegistrationId = result.GetValue(syntax.RegistrationId);
        options.SymmetricKey = result.GetValue(syntax.SymmetricKey);
        options.GroupKey = result.GetValue(syntax.GroupKey);
        options.Certificate = result.GetValue(syntax.Certificate);
        options.TrustedCa = result.GetValue(syntax.TrustedCa);
        foreach (var mapping in result.GetValue(syntax.HubAddress) ?? [])
        {
            var eq = mapping.IndexOf('=', StringComparison.Ordinal);
            options.HubAddresses[mapping[..eq]] = mapping[(eq + 1)..];
        }

        options.EmulatorFile = result.GetValue(syntax.Emulator);
        options.Enroll = result.GetValue(syntax.Enroll);
        error = null;
        return options.Check(ref error);
    }

    /// <summary>
    /// A parse error without echoing what might be a misplaced secret: a bare token (not an option name, not the value of an
    /// option that holds no secret) is named by its position only.
    /// </summary>
    private static string Describe(System.CommandLine.Parsing.ParseError error, string[] args)
    {
        var message = error.Message;
        for (var i = 0; i < args.Length; i++)
        {
            var safe = args[i].StartsWith('-') || (i > 0 && Syntax.PublicValues.Contains(args[i - 1]));
            if (!safe)
            {
                message = message.Replace($"'{args[i]}'", $"at position {i + 1}", StringComparison.Ordinal);
            }
        }

        return message.TrimEnd('.');
    }

    private static string Render(string[] args)
    {
        var output = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        new Syntax().Root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = output });
        return output.ToString().TrimEnd();
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

    /// <summary><c>--csr</c>'s value (case-insensitive), or null if it names no algorithm.</summary>
    private static Provisioning.Device.CertificateKeyAlgorithm? CsrAlgorithm(string text) => text.ToLowerInvariant() switch
    {
        "ecc" => Provisioning.Device.CertificateKeyAlgorithm.EccP256,
        "rsa" or "rsa2048" => Provisioning.Device.CertificateKeyAlgorithm.Rsa2048,
        "rsa3072" => Provisioning.Device.CertificateKeyAlgorithm.Rsa3072,
        _ => null,
    };

    private static string Text(ArgumentResult argument) => argument.Tokens.Count > 0 ? argument.Tokens[^1].Value : string.Empty;

    /// <summary>A value option; a value that looks like an option name (<c>--payload --x</c>) is a missing value.</summary>
    private static Option<string?> Value(string name, string helpName, string description)
    {
        var option = new Option<string?>(name) { Description = description, HelpName = helpName };
        option.Validators.Add(result =>
        {
            if (result.Tokens.Any(t => t.Value.StartsWith("--", StringComparison.Ordinal)))
            {
                result.AddError($"{name} needs a value");
            }
        });
        return option;
    }

    /// <summary>A value out of a fixed set; <paramref name="names"/> maps each accepted spelling (lower case when
    /// <paramref name="ignoreCase"/>) to its value.</summary>
    private static Option<T> Choice<T>(string name, string helpName, string description, IReadOnlyDictionary<string, T> names, bool ignoreCase, string problem)
    {
        return new Option<T>(name)
        {
            Description = description,
            HelpName = helpName,
            CustomParser = argument =>
            {
                var text = Text(argument);
                if (names.TryGetValue(ignoreCase ? text.ToLowerInvariant() : text, out var value))
                {
                    return value;
                }

                argument.AddError($"{problem}, not '{text}'");
                return default!;
            },
        };
    }

    /// <summary>The command: one root, no verbs; every option of the former hand-written parser, same names and values.</summary>
    private sealed class Syntax
    {
        public Syntax()
        {
            Option[] all =
            [
                Attestation, Transport, Tpm, OwnerAuth, EndorsementAuth, TpmTimeout, Payload, Message, Reprovision, Csr, KeyLocation,
                State, Json, Verbose, GlobalEndpoint, IdScope, RegistrationId, SymmetricKey, GroupKey, Certificate, TrustedCa,
                HubAddress, Emulator, Enroll,
            ];
            foreach (var option in all)
            {
                Root.Options.Add(option);
            }

            // Runnable as is: the program acts on the parse result itself.
            Root.SetAction(_ => 0);
        }

        /// <summary>Options whose values hold no secret, so a parse error may quote them.</summary>
        public static HashSet<string> PublicValues { get; } = new HashSet<string>(StringComparer.Ordinal)
        {
            "--attestation", "--transport", "--tpm", "--tpm-timeout", "--csr", "--key-location", "--state", "--global-endpoint",
            "--id-scope", "--registration-id", "--certificate", "--trusted-ca", "--hub-address", "--emulator",
        };

        public RootCommand Root { get; } = new(
            "A device's first boot. With no options: an embedded DPS emulator with two hubs, a software TPM in "
            + "~/.provisioning-device/firstboot, TPM attestation over HTTPS, one telemetry message. A second run boots from the "
            + "registration cache. A real Azure DPS instead of the emulator: --global-endpoint and --id-scope (with "
            + "--registration-id, --symmetric-key, --group-key, --certificate, --trusted-ca, --hub-address as needed). An emulator "
            + "run on its own (dotnet run --project src/Provisioning.Emulator -- --data <dir>): --emulator <emulator.json>, and "
            + "--enroll.");

        public Option<AttestationKind> Attestation { get; } = Choice(
            "--attestation",
            "tpm|symmetric|x509",
            "How the device proves its identity (default tpm).",
            new Dictionary<string, AttestationKind>
            {
                ["tpm"] = AttestationKind.Tpm,
                ["symmetric"] = AttestationKind.Symmetric,
                ["symmetric-key"] = AttestationKind.Symmetric,
                ["x509"] = AttestationKind.X509,
            },
            ignoreCase: false,
            "--attestation must be tpm, symmetric or x509");

        public Option<DpsTransport> Transport { get; } = Choice(
            "--transport",
            "https|mqtt|mqtt-ws|amqp|amqp-ws",
            "The protocol to DPS (default https; -ws is over WebSockets; DPS rejects TPM over MQTT, takes it over HTTPS and AMQP).",
            new Dictionary<string, DpsTransport>
            {
                ["https"] = DpsTransport.Https,
                ["http"] = DpsTransport.Https,
                ["mqtt"] = DpsTransport.Mqtt,
                ["mqtt-ws"] = DpsTransport.MqttWebSockets,
                ["mqtt-websockets"] = DpsTransport.MqttWebSockets,
                ["amqp"] = DpsTransport.Amqp,
                ["amqp-ws"] = DpsTransport.AmqpWebSockets,
                ["amqp-websockets"] = DpsTransport.AmqpWebSockets,
            },
            ignoreCase: false,
            "--transport must be https, mqtt, mqtt-ws, amqp or amqp-ws");

        public Option<string?> Tpm { get; } = Value(
            "--tpm",
            "spec",
            "The TPM: software[:<dir>], device[:<path>], swtpm:<host>:<port>, mssim:<host>:<port>, unix:<path> (default: a software "
            + "TPM in the state folder).");

        public Option<string?> OwnerAuth { get; } = Value(
            "--owner-auth",
            "value",
            "The TPM's owner hierarchy password, if one was set (tpm2_changeauth -c o); str:<text>, hex:<hex>, file:<path> or "
            + "env:<NAME>; never printed.");

        public Option<string?> EndorsementAuth { get; } = Value(
            "--endorsement-auth",
            "value",
            "The TPM's endorsement hierarchy password, if one was set (tpm2_changeauth -c e); as --owner-auth; never printed.");

        public Option<TimeSpan?> TpmTimeout { get; } = new("--tpm-timeout")
        {
            Description = "How long a quick TPM command may take, in seconds (default 25; key generation gets 5 min).",
            HelpName = "seconds",
            CustomParser = argument =>
            {
                var text = Text(argument);
                if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) && s > 0 && s <= 86_400)
                {
                    return TimeSpan.FromSeconds(s);
                }

                argument.AddError($"--tpm-timeout takes a number of seconds above 0 (at most 86400), not '{text}'");
                return null;
            },
        };

        public Option<string?> Payload { get; } = Value(
            "--payload",
            "json",
            "JSON sent with the registration (DPS 'payload', seen by custom allocation).");

        public Option<string?> Message { get; } = Value("--message", "json", "The telemetry body (default a small reading).");

        public Option<bool> Reprovision { get; } = new("--reprovision") { Description = "Ignore the registration cache and ask DPS again." };

        /// <summary>The algorithm is optional: <c>--csr</c> alone means ECC P-256.</summary>
        public Option<Provisioning.Device.CertificateKeyAlgorithm?> Csr { get; } = new("--csr")
        {
            Description = "Ask DPS for a certificate (api 2025-07-01-preview): the registration carries a CSR (default ECC P-256) "
                + "and the hub is reached with the issued certificate.",
            HelpName = "ecc|rsa|rsa3072",
            Arity = ArgumentArity.ZeroOrOne,
            CustomParser = argument =>
            {
                var text = argument.Tokens.Count == 0 ? "ecc" : Text(argument);
                var algorithm = CsrAlgorithm(text);
                if (algorithm is null)
                {
                    argument.AddError($"--csr takes ecc, rsa or rsa3072, not '{text}'");
                }

                return algorithm;
            },
        };

        public Option<Provisioning.Device.CertificateKeyLocation?> KeyLocation { get; } = Choice<Provisioning.Device.CertificateKeyLocation?>(
            "--key-location",
            "tpm|software",
            "Where the certificate key lives (default: the TPM for a device or swtpm TPM, else a key file beside the registration "
            + "cache, owner-only).",
            new Dictionary<string, Provisioning.Device.CertificateKeyLocation?>
            {
                ["tpm"] = Provisioning.Device.CertificateKeyLocation.Tpm,
                ["software"] = Provisioning.Device.CertificateKeyLocation.Software,
            },
            ignoreCase: true,
            "--key-location must be tpm or software");

        public Option<string?> State { get; } = Value("--state", "dir", "The state folder (default ~/.provisioning-device/firstboot).");

        public Option<bool> Json { get; } = new("--json") { Description = "End standard output with one JSON line describing the outcome." };

        public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "Client logs, and stack traces with errors." };

        public Option<string?> GlobalEndpoint { get; } = Value(
            "--global-endpoint",
            "host",
            "A real Azure DPS instead of the emulator, e.g. global.azure-devices-provisioning.net.");

        public Option<string?> IdScope { get; } = Value("--id-scope", "scope", "The DPS ID scope, e.g. 0ne00000001.");

        public Option<string?> RegistrationId { get; } = Value(
            "--registration-id",
            "id",
            "The registration id (symmetric key; for tpm the EK-derived id is the default).");

        public Option<string?> SymmetricKey { get; } = Value("--symmetric-key", "base64", "An individual enrollment's primary key.");

        public Option<string?> GroupKey { get; } = Value(
            "--group-key",
            "base64",
            "An enrollment group's primary key (the device key is derived).");

        public Option<string?> Certificate { get; } = Value(
            "--certificate",
            "pfx|pem",
            "The device certificate with its private key (x509; a PEM holds both).");

        public Option<string?> TrustedCa { get; } = Value("--trusted-ca", "pem", "An extra root trusted for DPS and hub TLS (a private CA).");

        public Option<string[]> HubAddress { get; } = HubAddresses();

        public Option<string?> Emulator { get; } = Value(
            "--emulator",
            "emulator.json",
            "A separately run emulator: its endpoint, ID scope, CA and hub addresses, from the file it writes.");

        public Option<bool> Enroll { get; } = new("--enroll")
        {
            Description = "Enroll this device first through the --emulator's service API (FirstBoot makes and keeps the "
                + "credentials, as with the embedded emulator).",
        };

        private static Option<string[]> HubAddresses()
        {
            var option = new Option<string[]>("--hub-address")
            {
                Description = "Dial that hub at host:port, keeping its name for TLS (repeatable).",
                HelpName = "hub>=<host:port",
                Arity = ArgumentArity.OneOrMore,
                AllowMultipleArgumentsPerToken = false,
            };
            option.Validators.Add(result =>
            {
                foreach (var token in result.Tokens)
                {
                    var mapping = token.Value;
                    var eq = mapping.IndexOf('=', StringComparison.Ordinal);
                    if (mapping.StartsWith("--", StringComparison.Ordinal))
                    {
                        result.AddError("--hub-address needs a value");
                        return;
                    }

                    if (eq <= 0 || eq == mapping.Length - 1 || !mapping.AsSpan(eq + 1).Contains(':'))
                    {
                        result.AddError($"--hub-address takes <hub host name>=<host:port>, not '{mapping}'");
                        return;
                    }
                }
            });
            return option;
        }
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

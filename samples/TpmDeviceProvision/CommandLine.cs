using System.Globalization;

namespace Provisioning.Samples;

/// <summary>The sample's arguments: a verb, a file for it, the TPM spec, hierarchy passwords, the command deadline, and flags.</summary>
/// <remarks>The passwords are kept as given (e.g. <c>env:NAME</c>) and read only when the TPM is opened; they are never printed.</remarks>
internal sealed record CommandLine(string Verb, string? File, string Tpm, bool Verbose, bool Help, string? Error)
{
    public const string Usage = """
        usage: TpmDeviceProvision [--tpm <spec>] [<tpm options>] [--verbose]
               TpmDeviceProvision activate --blob <file> [--tpm <spec>] [<tpm options>] [--verbose]
               TpmDeviceProvision sign --data <file> [--tpm <spec>] [<tpm options>] [--verbose]
        <spec>: device (default: /dev/tpmrm0, else /dev/tpm0; TPM Base Services on Windows), device:<path>, swtpm:<host>:<port>,
                mssim:<host>:<port>, unix:<path>, software[:<state-dir>]
        <tpm options>:
          --owner-auth <value>         the owner (storage) hierarchy password, if one was set (tpm2_changeauth -c o)
          --endorsement-auth <value>   the endorsement hierarchy password, if one was set (tpm2_changeauth -c e)
                                       <value>: str:<text>, hex:<hex>, file:<path> or env:<NAME> (as tpm2-tools, plus env:)
          --tpm-timeout <seconds>      how long a quick TPM command may take (default 25; key generation gets 5 min or more)
        """;

    /// <summary><c>--owner-auth</c> as given, or null.</summary>
    public string? OwnerAuth { get; init; }

    /// <summary><c>--endorsement-auth</c> as given, or null.</summary>
    public string? EndorsementAuth { get; init; }

    /// <summary><c>--tpm-timeout</c>, or null for the default.</summary>
    public TimeSpan? TpmTimeout { get; init; }

    public static CommandLine Parse(string[] args)
    {
        string verb = "show", tpm = "device";
        string? file = null, error = null, ownerAuth = null, endorsementAuth = null;
        TimeSpan? timeout = null;
        bool verbose = false, help = false;
        var i = 0;
        if (args.Length > 0 && !args[0].StartsWith('-'))
        {
            verb = args[0];
            i = 1;
            if (verb is not ("activate" or "sign"))
            {
                return new CommandLine(verb, null, tpm, false, false, $"unknown verb '{verb}'");
            }
        }

        for (; i < args.Length && error is null; i++)
        {
            switch (args[i])
            {
                case "--tpm" when i + 1 < args.Length:
                    tpm = args[++i];
                    break;
                case "--blob" when verb == "activate" && i + 1 < args.Length:
                case "--data" when verb == "sign" && i + 1 < args.Length:
                    file = args[++i];
                    break;
                case "--owner-auth" when i + 1 < args.Length:
                    ownerAuth = args[++i];
                    break;
                case "--endorsement-auth" when i + 1 < args.Length:
                    endorsementAuth = args[++i];
                    break;
                case "--tpm-timeout" when i + 1 < args.Length:
                    timeout = ParseTimeout(args[++i], ref error);
                    break;
                case "--verbose" or "-v":
                    verbose = true;
                    break;
                case "--help" or "-h":
                    help = true;
                    break;
                case "--owner-auth" or "--endorsement-auth" or "--tpm-timeout":
                    error = $"{args[i]} needs a value";
                    break;
                default:
                    // Never echo what might be a misplaced password: name the position only for values that look like options.
                    error = args[i].StartsWith('-') ? $"unexpected argument '{args[i]}'" : $"unexpected argument at position {i + 1}";
                    break;
            }
        }

        if (error is null && verb != "show" && file is null)
        {
            error = verb == "activate" ? "activate needs --blob <file>" : "sign needs --data <file>";
        }

        return new CommandLine(verb, file, tpm, verbose, help, error) { OwnerAuth = ownerAuth, EndorsementAuth = endorsementAuth, TpmTimeout = timeout };
    }

    /// <summary>Seconds, positive, at most a day.</summary>
    internal static TimeSpan? ParseTimeout(string text, ref string? error)
    {
        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0 && seconds <= 86_400)
        {
            return TimeSpan.FromSeconds(seconds);
        }

        error = $"--tpm-timeout takes a number of seconds above 0 (at most 86400), not '{text}'";
        return null;
    }
}

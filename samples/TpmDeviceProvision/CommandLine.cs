namespace Provisioning.Samples;

/// <summary>The sample's arguments: a verb, a file for it, the TPM spec, and flags.</summary>
internal sealed record CommandLine(string Verb, string? File, string Tpm, bool Verbose, bool Help, string? Error)
{
    public const string Usage = """
        usage: TpmDeviceProvision [--tpm <spec>] [--verbose]
               TpmDeviceProvision activate --blob <file> [--tpm <spec>] [--verbose]
               TpmDeviceProvision sign --data <file> [--tpm <spec>] [--verbose]
        <spec>: device (default: /dev/tpmrm0, else /dev/tpm0), device:<path>, swtpm:<host>:<port>, mssim:<host>:<port>, unix:<path>, software[:<state-dir>]
        """;

    public static CommandLine Parse(string[] args)
    {
        string verb = "show", tpm = "device";
        string? file = null, error = null;
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
                case "--verbose" or "-v":
                    verbose = true;
                    break;
                case "--help" or "-h":
                    help = true;
                    break;
                default:
                    error = $"unexpected argument '{args[i]}'";
                    break;
            }
        }

        if (error is null && verb != "show" && file is null)
        {
            error = verb == "activate" ? "activate needs --blob <file>" : "sign needs --data <file>";
        }

        return new CommandLine(verb, file, tpm, verbose, help, error);
    }
}

using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace Provisioning.Samples;

/// <summary>The sample's arguments: a verb, a file for it, the TPM spec, hierarchy passwords, the command deadline, and flags.</summary>
/// <remarks>
/// Parsed with System.CommandLine (no reflection binding: AOT and trim clean). The passwords are kept as given
/// (e.g. <c>env:NAME</c>) and read only when the TPM is opened; they are never printed, not even in parse errors.
/// </remarks>
internal sealed record CommandLine(string Verb, string? File, string Tpm, bool Verbose, bool Help, string? Error)
{
    private const string SpecHelp =
        "device (default: /dev/tpmrm0, else /dev/tpm0; TPM Base Services on Windows), device:<path>, swtpm:<host>:<port>, "
        + "mssim:<host>:<port>, unix:<path>, software[:<state-dir>]";

    private const string AuthHelp = "<value>: str:<text>, hex:<hex>, file:<path> or env:<NAME> (as tpm2-tools, plus env:)";

    private static readonly Lazy<string> RootHelp = new(() => Render(["--help"]));

    /// <summary>The help text (System.CommandLine's, for the root command and its two verbs).</summary>
    public static string Usage => RootHelp.Value;

    /// <summary>The help of the command asked about (<c>sign --help</c> describes sign), or the root's.</summary>
    public string HelpText { get; init; } = string.Empty;

    /// <summary><c>--owner-auth</c> as given, or null.</summary>
    public string? OwnerAuth { get; init; }

    /// <summary><c>--endorsement-auth</c> as given, or null.</summary>
    public string? EndorsementAuth { get; init; }

    /// <summary><c>--tpm-timeout</c>, or null for the default.</summary>
    public TimeSpan? TpmTimeout { get; init; }

    public static CommandLine Parse(string[] args)
    {
        var syntax = new Syntax();
        var result = syntax.Root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var verb = result.CommandResult.Command == syntax.Activate ? "activate" : result.CommandResult.Command == syntax.Sign ? "sign" : "show";
        var help = result.Action is System.CommandLine.Help.HelpAction;
        if (help || result.Errors.Count > 0)
        {
            return new CommandLine(verb, null, "device", false, help, help ? null : Describe(result.Errors[0], args))
            {
                HelpText = help ? Render(args) : Usage,
            };
        }

        return new CommandLine(
            verb,
            verb == "activate" ? result.GetValue(syntax.Blob) : verb == "sign" ? result.GetValue(syntax.Data) : null,
            result.GetValue(syntax.Tpm) ?? "device",
            result.GetValue(syntax.Verbose),
            false,
            null)
        {
            OwnerAuth = result.GetValue(syntax.OwnerAuth),
            EndorsementAuth = result.GetValue(syntax.EndorsementAuth),
            TpmTimeout = result.GetValue(syntax.TpmTimeout),
        };
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

    /// <summary>
    /// A parse error, without echoing what might be a misplaced password: a bare token (not an option name, not the verb,
    /// not the value of a non-secret option) is named by its position only.
    /// </summary>
    private static string Describe(ParseError error, string[] args)
    {
        var message = error.Message;
        for (var i = 1; i < args.Length; i++)
        {
            var safe = args[i].StartsWith('-') || args[i - 1] is "--tpm" or "--tpm-timeout" or "--blob" or "--data";
            if (!safe)
            {
                message = message.Replace($"'{args[i]}'", $"at position {i + 1}", StringComparison.Ordinal);
            }
        }

        return message;
    }

    private static string Render(string[] args)
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);
        new Syntax().Root.Parse(args).Invoke(new InvocationConfiguration { Output = output, Error = output });
        return output.ToString().TrimEnd();
    }

    /// <summary>The command tree: options shared by every verb are recursive on the root.</summary>
    private sealed class Syntax
    {
        public Syntax()
        {
            Activate.Options.Add(Blob);
            Sign.Options.Add(Data);
            foreach (var option in new Option[] { Tpm, OwnerAuth, EndorsementAuth, TpmTimeout, Verbose })
            {
                option.Recursive = true;
                Root.Options.Add(option);
            }

            Root.Subcommands.Add(Activate);
            Root.Subcommands.Add(Sign);

            // Each command is runnable (the program acts on the parse result itself), so none is "required".
            Root.SetAction(_ => 0);
            Activate.SetAction(_ => 0);
            Sign.SetAction(_ => 0);
        }

        public RootCommand Root { get; } = new(
            "Prints the TPM's Registration Id, Endorsement Key and Storage Root Key (as the Azure IoT C SDK's tpm_device_provision); "
            + "activate and sign are diagnostic verbs.");

        public Command Activate { get; } = new("activate", "Activates a raw DPS authenticationKey blob into the TPM's identity key.");

        public Command Sign { get; } = new("sign", "Prints the HMAC-SHA256 (base64) of a file, signed with the TPM's identity key.");

        public Option<string> Blob { get; } = new("--blob") { Description = "The DPS authenticationKey blob to activate.", HelpName = "file", Required = true };

        public Option<string> Data { get; } = new("--data") { Description = "The file to sign.", HelpName = "file", Required = true };

        public Option<string> Tpm { get; } = new("--tpm") { Description = "The TPM: " + SpecHelp, HelpName = "spec", DefaultValueFactory = _ => "device" };

        public Option<string?> OwnerAuth { get; } = new("--owner-auth")
        {
            Description = "The owner (storage) hierarchy password, if one was set (tpm2_changeauth -c o). " + AuthHelp,
            HelpName = "value",
        };

        public Option<string?> EndorsementAuth { get; } = new("--endorsement-auth")
        {
            Description = "The endorsement hierarchy password, if one was set (tpm2_changeauth -c e). " + AuthHelp,
            HelpName = "value",
        };

        public Option<TimeSpan?> TpmTimeout { get; } = new("--tpm-timeout")
        {
            Description = "How long a quick TPM command may take, in seconds (default 25; key generation gets 5 min or more).",
            HelpName = "seconds",
            CustomParser = argument =>
            {
                string? error = null;
                var value = ParseTimeout(argument.Tokens.Count > 0 ? argument.Tokens[^1].Value : string.Empty, ref error);
                if (error is not null)
                {
                    argument.AddError(error);
                }

                return value;
            },
        };

        public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "Print the full exception on failure." };
    }
}

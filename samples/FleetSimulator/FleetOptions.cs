using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

using Provisioning.Emulator.Enrollments;

namespace Provisioning.Samples.FleetSimulator;

/// <summary>FleetSimulator's arguments, checked before anything starts.</summary>
/// <remarks>Parsed with System.CommandLine (no reflection binding: AOT and trim clean); usage errors exit 2.</remarks>
internal sealed class FleetOptions
{
    private static readonly Lazy<string> HelpText = new(RenderHelp);

    /// <summary>The help text (System.CommandLine's).</summary>
    public static string Usage => HelpText.Value;

    public int Devices { get; private set; } = 100;

    public int Hubs { get; private set; } = 3;

    public AllocationPolicy Allocation { get; private set; } = AllocationPolicy.Hashed;

    public bool Tpm { get; private set; }

    public bool Mqtt { get; private set; }

    /// <summary>DPS over AMQP (dps-protocol.md §6).</summary>
    public bool Amqp { get; private set; }

    public double Faults { get; private set; }

    public int Concurrency { get; private set; } = 32;

    public bool Json { get; private set; }

    public bool Verbose { get; private set; }

    public bool Help { get; private set; }

    public string AllocationName => Allocation switch
    {
        AllocationPolicy.GeoLatency => "geoLatency",
        AllocationPolicy.Static => "static",
        AllocationPolicy.Custom => "custom",
        _ => "hashed",
    };

    public static FleetOptions Parse(string[] args, out string? error)
    {
        var syntax = new Syntax();
        var result = syntax.Root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var options = new FleetOptions();
        if (result.Action is System.CommandLine.Help.HelpAction)
        {
            options.Help = true;
            error = null;
            return options;
        }

        if (result.Errors.Count > 0)
        {
            error = result.Errors[0].Message;
            return options;
        }

        options.Devices = result.GetValue(syntax.Devices);
        options.Hubs = result.GetValue(syntax.Hubs);
        options.Concurrency = result.GetValue(syntax.Concurrency);
        options.Allocation = result.GetValue(syntax.Allocation) switch
        {
            "geoLatency" => AllocationPolicy.GeoLatency,
            "static" => AllocationPolicy.Static,
            "custom" => AllocationPolicy.Custom,
            _ => AllocationPolicy.Hashed,
        };
        options.Tpm = result.GetValue(syntax.Attestation) == "tpm";
        var transport = result.GetValue(syntax.Transport);
        options.Mqtt = transport == "mqtt";
        options.Amqp = transport == "amqp";
        options.Faults = result.GetValue(syntax.Faults);
        options.Json = result.GetValue(syntax.Json);
        options.Verbose = result.GetValue(syntax.Verbose);
        error = options.Tpm && options.Mqtt
            ? "TPM attestation needs HTTPS: the Device Provisioning Service does not support TPM over MQTT"
            : null;
        return options;
    }

    private static string RenderHelp()
    {
        var output = new StringWriter(CultureInfo.InvariantCulture);
        new Syntax().Root.Parse(["--help"]).Invoke(new InvocationConfiguration { Output = output, Error = output });
        return output.ToString().TrimEnd();
    }

    /// <summary>The last token of an option's value, or empty.</summary>
    private static string Text(ArgumentResult argument) => argument.Tokens.Count > 0 ? argument.Tokens[^1].Value : string.Empty;

    private static Option<int> Count(string name, int min, int max, int fallback, string description) => new(name)
    {
        Description = description + ".",
        HelpName = "n",
        DefaultValueFactory = _ => fallback,
        CustomParser = argument =>
        {
            var text = Text(argument);
            if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
            {
                return n;
            }

            argument.AddError($"{name} must be a whole number from {min} to {max}, not '{text}'");
            return min;
        },
    };

    /// <summary>The command: one root, no verbs.</summary>
    private sealed class Syntax
    {
        public Syntax()
        {
            foreach (var option in new Option[] { Devices, Hubs, Allocation, Attestation, Transport, Faults, Concurrency, Json, Verbose })
            {
                Root.Options.Add(option);
            }

            // Runnable as is: the program acts on the parse result itself.
            Root.SetAction(_ => 0);
        }

        public RootCommand Root { get; } = new(
            "Provisions a fleet of simulated devices across several emulated hubs against the in-process emulator, "
            + "then sends one message from each; prints where they went and how fast.");

        public Option<int> Devices { get; } = Count("--devices", 1, 1_000_000, 100, "How many devices; each has its own identity");

        public Option<int> Hubs { get; } = Count("--hubs", 1, 100, 3, "How many linked hubs");

        public Option<int> Concurrency { get; } = Count("--concurrency", 1, 10_000, 32, "Devices in flight at once");

        /// <summary>The policy's canonical name (the value is case-insensitive).</summary>
        public Option<string> Allocation { get; } = new("--allocation")
        {
            Description = "The enrollment's allocation policy; custom serves a webhook in-process.",
            HelpName = "hashed|geoLatency|static|custom",
            DefaultValueFactory = _ => "hashed",
            CustomParser = argument =>
            {
                var text = Text(argument);
                switch (text.ToLowerInvariant())
                {
                    case "hashed": return "hashed";
                    case "geolatency": return "geoLatency";
                    case "static": return "static";
                    case "custom": return "custom";
                    default:
                        argument.AddError($"--allocation must be hashed, geoLatency, static or custom, not '{text}'");
                        return "hashed";
                }
            },
        };

        /// <summary><c>tpm</c> or <c>symmetric</c> (also spelt <c>symmetric-key</c>).</summary>
        public Option<string> Attestation { get; } = new("--attestation")
        {
            Description = "symmetric: one enrollment group, a derived key per device; tpm: one software TPM and one individual "
                + "enrollment (by EK) per device.",
            HelpName = "symmetric|tpm",
            DefaultValueFactory = _ => "symmetric",
            CustomParser = argument =>
            {
                var text = Text(argument);
                switch (text)
                {
                    case "tpm": return "tpm";
                    case "symmetric" or "symmetric-key": return "symmetric";
                    default:
                        argument.AddError($"--attestation must be symmetric or tpm, not '{text}'");
                        return "symmetric";
                }
            },
        };

        public Option<string> Transport { get; } = new("--transport")
        {
            Description = "The protocol to DPS (mqtt for symmetric key only, as DPS has no TPM over MQTT; "
                + "amqp for both, the TPM challenge in SASL).",
            HelpName = "https|mqtt|amqp",
            DefaultValueFactory = _ => "https",
            CustomParser = argument =>
            {
                var text = Text(argument);
                switch (text)
                {
                    case "mqtt" or "amqp": return text;
                    case "https" or "http": return "https";
                    default:
                        argument.AddError($"--transport must be https, mqtt or amqp, not '{text}'");
                        return "https";
                }
            },
        };

        public Option<double> Faults { get; } = new("--faults")
        {
            Description = "The share of DPS requests answered 429 (registrations), 503 (polls) or a dropped connection, half each; "
                + "half that share of answers also comes 500 ms late.",
            HelpName = "rate",
            DefaultValueFactory = _ => 0,
            CustomParser = argument =>
            {
                var text = Text(argument);
                if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var rate) && rate is >= 0 and < 1)
                {
                    return rate;
                }

                argument.AddError($"--faults is a rate from 0 up to (not including) 1, not '{text}'");
                return 0;
            },
        };

        public Option<bool> Json { get; } = new("--json") { Description = "End standard output with one JSON line of figures." };

        public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "Log the emulator and the devices to standard error." };
    }
}

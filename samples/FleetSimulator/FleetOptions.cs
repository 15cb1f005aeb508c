using System.Globalization;

using Provisioning.Emulator.Enrollments;

namespace Provisioning.Samples.FleetSimulator;

/// <summary>FleetSimulator's arguments, checked before anything starts.</summary>
internal sealed class FleetOptions
{
    public const string Usage = """
        usage: FleetSimulator [--devices <n>] [--hubs <n>] [--allocation hashed|geoLatency|static|custom]
                              [--attestation symmetric|tpm] [--transport https|mqtt|amqp] [--faults <rate>] [--concurrency <n>]
                              [--json] [--verbose]
          --devices      how many devices (default 100); each has its own identity
          --hubs         how many linked hubs (default 3)
          --allocation   the enrollment's allocation policy (default hashed); custom serves a webhook in-process
          --attestation  symmetric: one enrollment group, a derived key per device; tpm: one software TPM and one
                         individual enrollment (by EK) per device (default symmetric)
          --transport    the protocol to DPS (default https; mqtt for symmetric key only, as DPS has no TPM over MQTT;
                         amqp for both, the TPM challenge in SASL)
          --faults       the share of DPS requests answered 429 (registrations), 503 (polls) or a dropped connection, half
                         each (default 0); half that share of answers also comes 500 ms late
          --concurrency  devices in flight at once (default 32)
          --json         end standard output with one JSON line of figures
        """;

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
        var options = new FleetOptions();
        string? problem = null;
        for (var i = 0; i < args.Length && problem is null; i++)
        {
            var name = args[i];
            string Value()
            {
                if (i + 1 < args.Length)
                {
                    return args[++i];
                }

                problem ??= $"{name} needs a value";
                return string.Empty;
            }

            int Count(int min, int max)
            {
                var text = Value();
                if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max)
                {
                    return n;
                }

                problem ??= $"{name} must be a whole number from {min} to {max}, not '{text}'";
                return min;
            }

            switch (name)
            {
                case "--devices": options.Devices = Count(1, 1_000_000); break;
                case "--hubs": options.Hubs = Count(1, 100); break;
                case "--concurrency": options.Concurrency = Count(1, 10_000); break;
                case "--allocation":
                    var allocation = Value();
                    options.Allocation = allocation.ToLowerInvariant() switch
                    {
                        "hashed" => AllocationPolicy.Hashed,
                        "geolatency" => AllocationPolicy.GeoLatency,
                        "static" => AllocationPolicy.Static,
                        "custom" => AllocationPolicy.Custom,
                        _ => Invalid($"--allocation must be hashed, geoLatency, static or custom, not '{allocation}'", AllocationPolicy.Hashed),
                    };
                    break;
                case "--attestation":
                    var attestation = Value();
                    options.Tpm = attestation switch
                    {
                        "tpm" => true,
                        "symmetric" or "symmetric-key" => false,
                        _ => Invalid($"--attestation must be symmetric or tpm, not '{attestation}'", false),
                    };
                    break;
                case "--transport":
                    var transport = Value();
                    options.Mqtt = transport switch
                    {
                        "mqtt" => true,
                        "https" or "http" or "amqp" => false,
                        _ => Invalid($"--transport must be https, mqtt or amqp, not '{transport}'", false),
                    };
                    options.Amqp = transport == "amqp";
                    break;
                case "--faults":
                    var rate = Value();
                    if (double.TryParse(rate, NumberStyles.Float, CultureInfo.InvariantCulture, out var r) && r is >= 0 and < 1)
                    {
                        options.Faults = r;
                    }
                    else
                    {
                        problem ??= $"--faults is a rate from 0 up to (not including) 1, not '{rate}'";
                    }

                    break;
                case "--json": options.Json = true; break;
                case "--verbose" or "-v": options.Verbose = true; break;
                case "--help" or "-h": options.Help = true; break;
                default: problem = $"unexpected argument '{name}'"; break;
            }

            T Invalid<T>(string message, T fallback)
            {
                problem ??= message;
                return fallback;
            }
        }

        if (problem is null && options.Tpm && options.Mqtt)
        {
            problem = "TPM attestation needs HTTPS: the Device Provisioning Service does not support TPM over MQTT";
        }

        error = problem;
        return options;
    }
}

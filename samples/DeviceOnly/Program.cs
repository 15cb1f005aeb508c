// DeviceOnly: a symmetric-key first boot for small devices, and nothing else. It provisions over HTTPS or MQTT, connects to the
// assigned hub over MQTT, sends one telemetry message, waits for the hub's PUBACK and exits. No emulator, no TPM, no AMQP,
// no WebSockets, no command-line library: what is left is what such a device carries. Published native (see README.md):
//   dotnet publish samples/DeviceOnly -c Release -r linux-x64 -p:PublishAot=true
//   DeviceOnly --emulator ./.emulator/emulator.json --registration-id device-only-01 --symmetric-key <base64> [--transport mqtt]
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;

using Provisioning.Device;
using Provisioning.Device.Hub;
using Provisioning.Samples.DeviceOnly;

const string Usage = """
    DeviceOnly: provision with a symmetric key (HTTPS or MQTT), connect to the hub over MQTT, send one message, exit.
      --emulator <emulator.json>     endpoints, ID scope, CA and hub addresses of a running emulator host
      --global-endpoint <url|host>   DPS endpoint (https://…, or host:port / mqtts://… with --transport mqtt)
      --id-scope <scope>             DPS ID scope
      --trusted-ca <pem>             a root CA to trust besides the system's (TLS validation stays on)
      --hub-address <host>=<addr>    dial <addr> (host:port) for hub <host>; repeatable
      --registration-id <id>         the enrollment's registration id
      --symmetric-key <base64>       the device key (or the DEVICE_SYMMETRIC_KEY environment variable)
      --transport https|mqtt         how to reach DPS (default https); the hub is always MQTT
      --stats                        at the end, print peak RSS (VmHWM), managed bytes allocated and GC counts
    """;

string? emulatorFile = null, endpoint = null, idScope = null, trustedCa = null, registrationId = null, transport = "https";
string? key = Environment.GetEnvironmentVariable("DEVICE_SYMMETRIC_KEY");
var stats = false;
var hubAddresses = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
for (var i = 0; i < args.Length; i++)
{
    if (args[i] is "-h" or "--help")
    {
        Output.Line(Usage);
        return 0;
    }

    if (args[i] == "--stats")
    {
        stats = true;
        continue;
    }

    if (i + 1 >= args.Length)
    {
        return Fail($"'{args[i]}' needs a value\n{Usage}", 2);
    }

    var value = args[++i];
    switch (args[i - 1])
    {
        case "--emulator": emulatorFile = value; break;
        case "--global-endpoint": endpoint = value; break;
        case "--id-scope": idScope = value; break;
        case "--trusted-ca": trustedCa = value; break;
        case "--registration-id": registrationId = value; break;
        case "--symmetric-key": key = value; break;
        case "--transport": transport = value; break;
        case "--hub-address":
            var eq = value.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || eq == value.Length - 1)
            {
                return Fail($"--hub-address wants <host>=<host:port>, not '{value}'", 2);
            }

            hubAddresses[value[..eq]] = value[(eq + 1)..];
            break;
        default:
            return Fail($"unknown option '{args[i - 1]}'\n{Usage}", 2);
    }
}

if (stats)
{
    // First of the process-exit handlers: what the runtime's own shutdown adds comes after it.
    AppDomain.CurrentDomain.ProcessExit += (_, _) => Output.Line($"at exit: peak RSS {Stats.PeakRss()}; {Stats.Exceptions}");
    // Each first throw of an exception makes the runtime read unwind tables it had not touched: pages of RSS.
    AppDomain.CurrentDomain.FirstChanceException += (_, _) => Stats.Thrown();
}

if (transport is not ("https" or "mqtt"))
{
    return Fail($"--transport is https or mqtt, not '{transport}'", 2);
}

if (emulatorFile is not null)
{
    EmulatorFile? file;
    try
    {
        file = JsonSerializer.Deserialize(File.ReadAllBytes(emulatorFile), EmulatorFileJsonContext.Default.EmulatorFile);
    }
    catch (Exception e) when (e is IOException or UnauthorizedAccessException or JsonException)
    {
        return Fail($"cannot read the emulator file '{emulatorFile}': {e.Message}", 2);
    }

    if (file is not { GlobalEndpoint: { } https, IdScope: { } scope, CaCertificate: { } ca })
    {
        return Fail($"'{emulatorFile}' lacks globalEndpoint, idScope or caCertificate", 2);
    }

    if (transport == "mqtt" && endpoint is null && file.MqttEndpoint is null)
    {
        return Fail($"the emulator in '{emulatorFile}' serves no DPS MQTT endpoint (it was started with --mqtt-port off)", 2);
    }

    endpoint ??= transport == "mqtt" ? file.MqttEndpoint : https;
    idScope ??= scope;
    trustedCa ??= Path.GetFullPath(ca, Path.GetDirectoryName(Path.GetFullPath(emulatorFile))!);
    foreach (var hub in file.Hubs ?? [])
    {
        if (hub.HostName is { } host && hub.MqttAddress is { } address)
        {
            hubAddresses.TryAdd(host, address);
        }
    }
}

if (string.IsNullOrEmpty(endpoint) || string.IsNullOrEmpty(idScope) || string.IsNullOrEmpty(registrationId) || string.IsNullOrEmpty(key))
{
    return Fail($"give --emulator or --global-endpoint and --id-scope, and --registration-id and --symmetric-key\n{Usage}", 2);
}

// One deadline for the whole boot; Ctrl+C ends the process (nothing here needs a clean stop, and a handler costs a signal
// thread and the terminal code).
using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(2));

X509Certificate2? root = null;
try
{
    root = trustedCa is null ? null : X509CertificateLoader.LoadCertificate(PemCertificate.Read(trustedCa));
    using var attestation = new SymmetricKeyAttestation(registrationId, key);
    var provisioningOptions = new ProvisioningClientOptions
    {
        Transport = transport == "mqtt" ? ProvisioningTransport.Mqtt : ProvisioningTransport.Https,
    };
    var hubOptions = new DeviceClientOptions();
    if (root is not null)
    {
        provisioningOptions.TrustedRootCertificates.Add(root);
        hubOptions.TrustedRootCertificates.Add(root);
    }

    foreach (var (host, address) in hubAddresses)
    {
        hubOptions.HubAddresses[host] = address;
    }

    // The provisioning client (its connection, TLS session and buffers) is gone before the hub connection opens.
    DeviceRegistrationResult registration;
    using (var dps = new ProvisioningDeviceClient(endpoint, idScope, attestation, provisioningOptions))
    {
        registration = await dps.RegisterAsync(cancel.Token);
    }

    if (registration.Status != ProvisioningRegistrationStatus.Assigned)
    {
        return Fail($"registration '{registrationId}' is {registration.Status}: {registration.ErrorCode} {registration.ErrorMessage}", 1);
    }

    Output.Line($"assigned to {registration.AssignedHub} as {registration.DeviceId} over {transport}");
    // Closed (MQTT DISCONNECT) before the figures are taken: the boot includes it.
    await using (var hub = DeviceClient.Create(registration, attestation, hubOptions))
    {
        await hub.OpenAsync(cancel.Token);
        await hub.SendEventAsync(new HubMessage("""{"firstBoot":true,"temperature":21.5}"""u8.ToArray()), cancel.Token);
        Output.Line("telemetry acknowledged by the hub");
    }

    if (stats)
    {
        Output.Line(Stats.Describe());
    }

    return 0;
}
catch (Exception e) when (e is ProvisioningException or HubException or IOException or ArgumentException or OperationCanceledException
    or NotSupportedException or System.Security.Cryptography.CryptographicException)
{
    return Fail(e.Message, 1);
}
finally
{
    root?.Dispose();
}

static int Fail(string message, int code)
{
    Output.Line($"error: {message}", error: true);
    return code;
}

namespace Provisioning.Samples.DeviceOnly
{
    /// <summary>The fields of the emulator host's <c>emulator.json</c> this sample reads.</summary>
    internal sealed class EmulatorFile
    {
        public string? GlobalEndpoint { get; set; }

        public string? IdScope { get; set; }

        public string? CaCertificate { get; set; }

        public string? MqttEndpoint { get; set; }

        public List<EmulatorFileHub>? Hubs { get; set; }
    }

    internal sealed class EmulatorFileHub
    {
        public string? HostName { get; set; }

        public string? MqttAddress { get; set; }
    }

    [JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
    [JsonSerializable(typeof(EmulatorFile))]
    internal sealed partial class EmulatorFileJsonContext : JsonSerializerContext;

    /// <summary>Lines to standard output or error as UTF-8, straight to the stream: no console writer, encoding lookup or
    /// terminal set-up, which a device that logs a few lines does not need.</summary>
    internal static class Output
    {
        public static void Line(string text, bool error = false)
        {
            using var stream = error ? Console.OpenStandardError() : Console.OpenStandardOutput();
            stream.Write(System.Text.Encoding.UTF8.GetBytes(text + "\n"));
        }
    }

    /// <summary>What the boot cost in memory, for the small-device figures (tests/Provisioning.Device.Benchmarks/README.md).</summary>
    internal static class Stats
    {
        private static int _thrown;

        /// <summary>How many exceptions were thrown (and caught) on the way, e.g. background loops ending by cancellation.</summary>
        public static string Exceptions => $"{Volatile.Read(ref _thrown)} exceptions thrown";

        public static void Thrown() => Interlocked.Increment(ref _thrown);

        public static string Describe() =>
            $"{Exceptions}; peak RSS {PeakRss()}; managed allocations {GC.GetTotalAllocatedBytes() / 1024} KiB; GCs gen0 {GC.CollectionCount(0)}, gen1 {GC.CollectionCount(1)}, gen2 {GC.CollectionCount(2)}";

        public static string PeakRss()
        {
            string peak = "unknown";
            try
            {
                // Linux: the process's peak resident set, as /usr/bin/time -v reports it (Maximum resident set size).
                foreach (var line in File.ReadLines("/proc/self/status"))
                {
                    if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                    {
                        peak = line["VmHWM:".Length..].Trim();
                    }
                }
            }
            catch (IOException)
            {
            }

            return peak;
        }
    }

    /// <summary>Reads the first certificate of a PEM file as DER, without the PEM loader's key handling.</summary>
    internal static class PemCertificate
    {
        public static byte[] Read(string path)
        {
            var text = File.ReadAllText(path);
            if (!System.Security.Cryptography.PemEncoding.TryFind(text, out var fields) || text[fields.Label] is not "CERTIFICATE")
            {
                throw new ArgumentException($"'{path}' holds no PEM CERTIFICATE");
            }

            return Convert.FromBase64String(text[fields.Base64Data]);
        }
    }
}

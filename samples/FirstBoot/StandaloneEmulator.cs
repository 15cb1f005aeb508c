using System.Text.Json;
using System.Text.Json.Serialization;

namespace Provisioning.Samples.FirstBoot;

/// <summary>
/// What FirstBoot needs from the <c>emulator.json</c> a separately run emulator host writes
/// (<c>dotnet run --project src/Provisioning.Emulator -- --data &lt;dir&gt;</c>): where DPS answers, the ID scope, the CA to
/// trust, the service connection string (for <c>--enroll</c>), and the address each hub really listens on.
/// </summary>
internal sealed class StandaloneEmulator
{
    public required string GlobalEndpoint { get; init; }

    public required string IdScope { get; init; }

    /// <summary>The emulator CA's PEM, as an absolute path.</summary>
    public required string CaCertificate { get; init; }

    public string? ServiceConnectionString { get; init; }

    public string? MqttEndpoint { get; init; }

    public string? WebSocketEndpoint { get; init; }

    public string? AmqpEndpoint { get; init; }

    public string? AmqpWebSocketEndpoint { get; init; }

    /// <summary>Hub host name → <c>host:port</c> dialled.</summary>
    public required IReadOnlyDictionary<string, string> HubAddresses { get; init; }

    public static async Task<StandaloneEmulator> ReadAsync(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"the emulator file '{path}' does not exist (the emulator host writes <data>/emulator.json when it starts)");
        }

        EmulatorFile? file;
        var stream = File.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            try
            {
                file = await JsonSerializer.DeserializeAsync(stream, EmulatorFileJsonContext.Default.EmulatorFile, cancellationToken).ConfigureAwait(false);
            }
            catch (JsonException ex)
            {
                throw new ArgumentException($"'{path}' is not an emulator.json: {ex.Message}", ex);
            }
        }

        if (file is not { GlobalEndpoint: { } endpoint, IdScope: { } idScope, CaCertificate: { } ca })
        {
            throw new ArgumentException($"'{path}' lacks globalEndpoint, idScope or caCertificate");
        }

        var hubs = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var hub in file.Hubs ?? [])
        {
            if (hub.HostName is { } host && hub.MqttAddress is { } address)
            {
                hubs[host] = address;
            }
        }

        // A relative CA path is taken from the file's folder, not from wherever FirstBoot was started.
        var directory = Path.GetDirectoryName(Path.GetFullPath(path))!;
        return new StandaloneEmulator
        {
            GlobalEndpoint = endpoint,
            IdScope = idScope,
            CaCertificate = Path.GetFullPath(ca, directory),
            ServiceConnectionString = file.ServiceConnectionString,
            MqttEndpoint = file.MqttEndpoint,
            WebSocketEndpoint = file.WebSocketEndpoint,
            AmqpEndpoint = file.AmqpEndpoint,
            AmqpWebSocketEndpoint = file.AmqpWebSocketEndpoint,
            HubAddresses = hubs,
        };
    }

    /// <summary>The DPS endpoint for <paramref name="transport"/>: the HTTPS URL, the MQTT <c>host:port</c>, or the WebSocket URL.</summary>
    public string Endpoint(DpsTransport transport) => transport switch
    {
        DpsTransport.Mqtt => MqttEndpoint ?? throw new ArgumentException("the emulator serves no DPS MQTT endpoint (it was started with --mqtt-port off)"),
        DpsTransport.MqttWebSockets => WebSocketEndpoint ?? throw new ArgumentException("the emulator serves no DPS WebSocket endpoint (it was started with --websocket-port off)"),
        DpsTransport.Amqp => AmqpEndpoint ?? throw new ArgumentException("the emulator serves no DPS AMQP endpoint (it was started with --amqp-port off)"),
        DpsTransport.AmqpWebSockets => AmqpWebSocketEndpoint ?? throw new ArgumentException("the emulator serves no DPS AMQP WebSocket endpoint (it was started with --amqp-websocket-port off)"),
        _ => GlobalEndpoint,
    };
}

/// <summary>The fields of <c>emulator.json</c> FirstBoot reads (the emulator's own model is not shared with clients).</summary>
internal sealed class EmulatorFile
{
    public string? GlobalEndpoint { get; set; }

    public string? IdScope { get; set; }

    public string? ServiceConnectionString { get; set; }

    public string? CaCertificate { get; set; }

    public string? MqttEndpoint { get; set; }

    public string? WebSocketEndpoint { get; set; }

    public string? AmqpEndpoint { get; set; }

    public string? AmqpWebSocketEndpoint { get; set; }

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

using System.Globalization;
using System.Runtime.InteropServices;

using Microsoft.Extensions.Logging;

namespace Provisioning.Emulator.Hosting;

/// <summary>
/// The runnable host: <c>dotnet run --project src/Provisioning.Emulator -- [--port n] [--data dir] [--id-scope s] [--hubs n]
/// [--hub-port n]</c>. Writes <c>&lt;data&gt;/emulator.json</c> (with each hub's <c>mqttAddress</c>), prints it once, and stops
/// cleanly on Ctrl-C or SIGTERM. <c>--hub-port n</c> puts the hubs' MQTT endpoints on n, n+1, … (default: free ports).
/// The same host is the <c>dps-emulator</c> .NET tool (<c>dotnet tool install -g Provisioning.Emulator.Tool</c>).
/// </summary>
public static class EmulatorHost
{
    private const string Usage = "usage: Provisioning.Emulator [--port <n>] [--data <dir>] [--id-scope <scope>] [--hubs <n>] [--seed <json>] [--retry-after <seconds>] [--assignment-delay <ms>] [--hub-port <n>] [--mqtt-port <n|off>] [--websocket-port <n|off>] [--portal-port <n|off>] [--portal-address <ip>] [--issued-certificate-validity <seconds>] [--amqp-port <n|off>] [--amqp-websocket-port <n|off>]";

    /// <summary>Runs the emulator host with a command line until Ctrl-C or SIGTERM.</summary>
    /// <param name="args">The command line (<c>--help</c> prints it).</param>
    /// <returns>The exit code: 0 after a clean stop or <c>--help</c>, 2 for a bad argument.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var options = new DpsEmulatorOptions { DataDirectory = Path.Combine(Environment.CurrentDirectory, ".emulator"), HubWebSockets = true, PortalPort = 0 };
        var hubCount = 1;
        var explicitHubs = false;
        var hubPort = 0;
        for (var i = 0; i < args.Length; i++)
        {
            var value = i + 1 < args.Length ? args[i + 1] : null;
            bool ok;
            switch (args[i])
            {
                case "--port":
                    ok = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) && port <= 65535;
                    options.Port = port;
                    break;
                case "--data":
                    ok = !string.IsNullOrWhiteSpace(value);
                    options.DataDirectory = value;
                    break;
                case "--id-scope":
                    ok = !string.IsNullOrWhiteSpace(value);
                    options.IdScope = value;
                    break;
                case "--hubs":
                    ok = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out hubCount) && hubCount is > 0 and <= 64;
                    explicitHubs = true;
                    break;
                case "--seed":
                    ok = value is not null && File.Exists(value);
                    options.SeedFile = value;
                    break;
                case "--retry-after":
                    ok = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds);
                    options.RetryAfter = TimeSpan.FromSeconds(seconds);
                    break;
                case "--assignment-delay":
                    ok = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var delayMs);
                    options.AssignmentDelay = TimeSpan.FromMilliseconds(delayMs);
                    break;
                case "--issued-certificate-validity":
                    ok = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var validity) && validity is > 0 and <= 3650 * 86400;
                    options.IssuedCertificateValidity = TimeSpan.FromSeconds(ok ? validity : 1);
                    break;
                case "--hub-port":
                    ok = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out hubPort) && hubPort is > 0 and <= 65535 - 64;
                    break;
                case "--mqtt-port" or "--websocket-port":
                    int? chosen = value == "off" ? null : int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var mqttPort) && mqttPort <= 65535 ? mqttPort : -1;
                    ok = chosen is not -1;
                    if (args[i] == "--mqtt-port")
                    {
                        options.MqttPort = chosen;
                    }
                    else
                    {
                        options.WebSocketPort = chosen;
                    }

                    break;
                case "--portal-port":
                    // The operator's portal: on by default in the host, on a port the OS chooses.
                    int? portal = value == "off" ? null : int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var portalPort) && portalPort <= 65535 ? portalPort : -1;
                    ok = portal is not -1;
                    options.PortalPort = portal;
                    break;
                case "--portal-address":
                    ok = System.Net.IPAddress.TryParse(value, out var portalAddress);
                    options.PortalAddress = portalAddress ?? System.Net.IPAddress.Loopback;
                    break;
                case "--amqp-port" or "--amqp-websocket-port":
                    int? amqpChosen = value == "off" ? null : int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var amqpPort) && amqpPort <= 65535 ? amqpPort : -1;
                    ok = amqpChosen is not -1;
                    if (args[i] == "--amqp-port")
                    {
                        options.AmqpPort = amqpChosen;
                    }
                    else
                    {
                        options.AmqpWebSocketPort = amqpChosen;
                    }

                    break;
                case "-h" or "--help":
                    await Console.Out.WriteLineAsync(Usage).ConfigureAwait(false);
                    return 0;
                default:
                    ok = false;
                    break;
            }

            if (!ok)
            {
                await Console.Error.WriteLineAsync($"bad argument '{args[i]}'\n{Usage}").ConfigureAwait(false);
                return 2;
            }

            i++;
        }

        for (var h = 1; h <= hubCount && (options.SeedFile is null || explicitHubs); h++)
        {
            options.Hubs.Add(new LinkedHub($"hub{h.ToString(CultureInfo.InvariantCulture)}.localhost")
            {
                MqttAddress = hubPort == 0 ? null : $"127.0.0.1:{(hubPort + h - 1).ToString(CultureInfo.InvariantCulture)}",
            });
        }

        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        options.LoggerFactory = loggerFactory;

        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

        await using var emulator = await DpsEmulator.StartAsync(options, stop.Token).ConfigureAwait(false);
        await Console.Out.WriteLineAsync(emulator.DescribeJson()).ConfigureAwait(false);
        if (emulator.PortalUrl is { } portalUrl)
        {
            await Console.Out.WriteLineAsync($"Portal: {portalUrl} (its access token is in the address; emulator.json has it as portalUrl)").ConfigureAwait(false);
        }

        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            await Console.Out.WriteLineAsync("stopping").ConfigureAwait(false);
        }

        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }
}

using System.Globalization;

namespace Provisioning.Device.Benchmarks;

internal sealed record BenchmarkSettings(int Devices, int Concurrency, string Attestation, ProvisioningTransport Transport, bool EmulatorInProcess, int Warmup, int Single, bool Allocations = false, bool UseHttpClient = false)
{
    private const string Usage = "usage: [--devices <n>] [--concurrency <n>] [--attestation symmetric|tpm] [--transport https|mqtt|mqttws|amqp|amqpws] [--emulator inproc|process] [--warmup <n>] [--single <n>] [--allocations] [--https-client direct|httpclient]";

    public static BenchmarkSettings Parse(string[] args)
    {
        string attestation = Value(args, "--attestation") ?? "symmetric";
        if (attestation is not ("symmetric" or "tpm"))
        {
            throw new ArgumentException(Usage);
        }

        ProvisioningTransport transport = (Value(args, "--transport") ?? "https") switch
        {
            "https" => ProvisioningTransport.Https,
            "mqtt" => ProvisioningTransport.Mqtt,
            "mqttws" => ProvisioningTransport.MqttWebSockets,
            "amqp" => ProvisioningTransport.Amqp,
            "amqpws" => ProvisioningTransport.AmqpWebSockets,
            _ => throw new ArgumentException(Usage),
        };
        if (attestation == "tpm" && transport is ProvisioningTransport.Mqtt or ProvisioningTransport.MqttWebSockets)
        {
            throw new ArgumentException("TPM attestation works over HTTPS and AMQP (the service has no TPM over MQTT). " + Usage);
        }

        string emulator = Value(args, "--emulator") ?? "inproc";
        if (emulator is not ("inproc" or "process"))
        {
            throw new ArgumentException(Usage);
        }

        bool tpm = attestation == "tpm";
        return new BenchmarkSettings(
            Number(args, "--devices", tpm ? 100 : 1000),
            Number(args, "--concurrency", 50),
            attestation,
            transport,
            emulator == "inproc",
            Number(args, "--warmup", tpm ? 10 : 100),
            Number(args, "--single", tpm ? 10 : 50),
            args.Contains("--allocations"),
            (Value(args, "--https-client") ?? "direct") switch
            {
                "direct" => false,
                "httpclient" => true,
                _ => throw new ArgumentException(Usage),
            });
    }

    private static string? Value(string[] args, string name)
    {
        int index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    private static int Number(string[] args, string name, int fallback) =>
        Value(args, name) is { } text
            ? int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value > 0 ? value : throw new ArgumentException($"{name} needs a positive number. {Usage}")
            : fallback;
}

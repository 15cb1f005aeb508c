using System.Globalization;
using System.Text.Json.Serialization;

namespace Provisioning.Samples.FleetSimulator;

/// <summary>The fleet's figures: where the devices went, how long registration took, what failed.</summary>
internal sealed class FleetResult(FleetOptions options, IReadOnlyList<DeviceOutcome> outcomes, TimeSpan elapsed, long retries, int? webhookCalls,
    RequestCounter requests, int duplicates)
{
    public IReadOnlyList<DeviceOutcome> Outcomes { get; } = outcomes;

    public int Lost => Outcomes.Count(o => o.Lost);

    public FleetReport ToReport()
    {
        var latencies = Outcomes.Where(o => o.Assigned).Select(o => o.Latency.TotalMilliseconds).Order().ToArray();
        var assigned = latencies.Length;
        return new FleetReport
        {
            Devices = options.Devices,
            Assigned = assigned,
            Failed = Lost,
            TelemetryDelivered = Outcomes.Count(o => o.TelemetryDelivered),
            Hubs = Outcomes.Where(o => o.Assigned).GroupBy(o => o.AssignedHub!).OrderBy(g => g.Key, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.Count()),
            P50Ms = Percentile(latencies, 0.50),
            P95Ms = Percentile(latencies, 0.95),
            P99Ms = Percentile(latencies, 0.99),
            Retries = retries,
            Lost = Lost,
            Duplicates = duplicates,
            Requests = requests.Requests == 0 ? null : requests.Requests,
            FailedRequests = requests.Requests == 0 ? null : requests.Failed,
            RequestAmplification = requests.Amplification,
            RegistrationsPerSecond = Math.Round(assigned / elapsed.TotalSeconds, 1),
            ElapsedMs = (long)elapsed.TotalMilliseconds,
            Allocation = options.AllocationName,
            Attestation = options.Tpm ? "tpm" : "symmetric",
            Transport = options.Mqtt ? "mqtt" : options.Amqp ? "amqp" : "https",
            WebhookCalls = webhookCalls,
        };
    }

    public void WriteTable(TextWriter output)
    {
        var report = ToReport();
        output.WriteLine();
        output.WriteLine($"Fleet: {report.Devices} devices, {options.Hubs} hubs, {report.Allocation} allocation, {report.Attestation} attestation over {report.Transport}, concurrency {options.Concurrency}, faults {options.Faults.ToString(CultureInfo.InvariantCulture)}");
        output.WriteLine();
        output.WriteLine($"  {"hub",-24} {"devices",8}");
        foreach (var (hub, count) in report.Hubs)
        {
            output.WriteLine($"  {hub,-24} {count,8}");
        }

        output.WriteLine();
        output.WriteLine($"  {"assigned",-24} {report.Assigned,8}");
        output.WriteLine($"  {"telemetry delivered",-24} {report.TelemetryDelivered,8}");
        output.WriteLine($"  {"failures",-24} {report.Failed,8}");
        output.WriteLine($"  {"lost",-24} {report.Lost,8}");
        output.WriteLine($"  {"duplicate devices",-24} {report.Duplicates,8}");
        output.WriteLine($"  {"retries",-24} {report.Retries,8}");
        if (report.Requests is { } total)
        {
            output.WriteLine($"  {"DPS requests",-24} {total,8}");
            output.WriteLine($"  {"  answered by a fault",-24} {report.FailedRequests,8}");
            output.WriteLine($"  {"request amplification",-24} {report.RequestAmplification?.ToString("0.000", CultureInfo.InvariantCulture),8}");
        }

        output.WriteLine($"  {"latency p50",-24} {Ms(report.P50Ms),8}");
        output.WriteLine($"  {"latency p95",-24} {Ms(report.P95Ms),8}");
        output.WriteLine($"  {"latency p99",-24} {Ms(report.P99Ms),8}");
        output.WriteLine($"  {"registrations/s",-24} {report.RegistrationsPerSecond.ToString("0.0", CultureInfo.InvariantCulture),8}");
        output.WriteLine($"  {"elapsed",-24} {Ms(report.ElapsedMs),8}");
        if (report.WebhookCalls is { } calls)
        {
            output.WriteLine($"  {"webhook calls",-24} {calls,8}");
        }

        foreach (var group in Outcomes.Where(o => o.Lost).GroupBy(o => o.Error ?? "unknown").OrderByDescending(g => g.Count()).Take(5))
        {
            output.WriteLine($"  lost {group.Count()}: {group.Key} (e.g. {group.First().RegistrationId})");
        }
    }

    private static string Ms(double ms) => ms.ToString("0", CultureInfo.InvariantCulture) + " ms";

    /// <summary>Nearest-rank percentile of sorted values; 0 when there are none.</summary>
    private static double Percentile(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : Math.Round(sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)], 1);
}

/// <summary>The <c>--json</c> line.</summary>
internal sealed class FleetReport
{
    public int Devices { get; init; }

    public int Assigned { get; init; }

    public int Failed { get; init; }

    public int TelemetryDelivered { get; init; }

    public required Dictionary<string, int> Hubs { get; init; }

    public double P50Ms { get; init; }

    public double P95Ms { get; init; }

    public double P99Ms { get; init; }

    public long Retries { get; init; }

    /// <summary>Devices not assigned, or whose telemetry the hub has no record of.</summary>
    public int Lost { get; init; }

    /// <summary>Devices that exist twice (a registration that ended twice, or a device id in two hubs).</summary>
    public int Duplicates { get; init; }

    /// <summary>DPS requests sent (HTTPS; absent over MQTT).</summary>
    public long? Requests { get; init; }

    /// <summary>Of those, the ones answered by a fault (429, 5xx, or no answer).</summary>
    public long? FailedRequests { get; init; }

    /// <summary>All DPS requests ÷ the answered ones: the traffic a fault-free run would send is the answered part.</summary>
    public double? RequestAmplification { get; init; }

    public double RegistrationsPerSecond { get; init; }

    public long ElapsedMs { get; init; }

    public required string Allocation { get; init; }

    public required string Attestation { get; init; }

    public required string Transport { get; init; }

    public int? WebhookCalls { get; init; }
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(FleetReport))]
internal sealed partial class FleetJsonContext : JsonSerializerContext;

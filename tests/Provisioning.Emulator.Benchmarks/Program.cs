// Registration load benchmark (not a test): starts the emulator host as its own process, creates a symmetric-key group
// through the service REST API, then registers devices (PUT register + GET operation, like a device) over HTTPS with
// N concurrent callers, and prints registrations/s, latency percentiles and the emulator process's CPU and memory.
//
//   dotnet run -c Release --project tests/Provisioning.Emulator.Benchmarks -- [--devices 10000] [--concurrency 64]
//       [--new-connection 1] [--client ours|microsoft] [--poll-delay-ms 0]
//
// --new-connection 1 gives every device its own handler, so its own TLS connection (a fleet: one TLS handshake per device).
// --client microsoft sends the two requests as Microsoft's device client (HTTP transport) does, per its public source:
// an HttpClientHandler per registration, the Microsoft.Rest product tokens and the SDK's User-Agent, the SAS set through
// AuthenticationHeaderValue and rebuilt for each request, the body as StringContent(UTF-8) (application/json; charset=utf-8).
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

var devices = Arg("--devices", 10_000);
var concurrency = Arg("--concurrency", 64);
var warmup = Arg("--warmup", 1_000);
var newConnection = Arg("--new-connection", 0) != 0;
var microsoft = StringArg("--client", "ours") == "microsoft";
var pollDelay = Arg("--poll-delay-ms", 0);
var data = Path.Combine(Path.GetTempPath(), "dps-emu-bench-" + Guid.NewGuid().ToString("N"));
// The emulator refuses a data folder others can open (it holds every key): 0700.
if (OperatingSystem.IsWindows())
{
    Directory.CreateDirectory(data);
}
else
{
    Directory.CreateDirectory(data, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
}

var hostDll = Path.Combine(AppContext.BaseDirectory, "Provisioning.Emulator.dll");
using var host = Process.Start(new ProcessStartInfo("dotnet", ["exec", hostDll, "--data", data, "--port", "0", "--hubs", "3", "--retry-after", "0"])
{
    RedirectStandardOutput = true,
    RedirectStandardError = true,
})!;
try
{
    var infoPath = Path.Combine(data, "emulator.json");
    var started = Stopwatch.StartNew();
    while (!File.Exists(infoPath) || new FileInfo(infoPath).Length == 0)
    {
        if (host.HasExited || started.Elapsed > TimeSpan.FromSeconds(60))
        {
            throw new InvalidOperationException("The emulator host did not start: " + await host.StandardError.ReadToEndAsync());
        }

        await Task.Delay(100);
    }

    using var info = JsonDocument.Parse(await File.ReadAllTextAsync(infoPath));
    var endpoint = new Uri(info.RootElement.GetProperty("globalEndpoint").GetString()!);
    var idScope = info.RootElement.GetProperty("idScope").GetString()!;
    var connection = info.RootElement.GetProperty("serviceConnectionString").GetString()!
        .Split(';').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1]);
    using var ca = X509CertificateLoader.LoadCertificateFromFile(info.RootElement.GetProperty("caCertificate").GetString()!);
    using var client = CreateClient(ca, endpoint, concurrency, microsoft: false);

    var groupKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    var serviceSas = Sas(Convert.FromBase64String(connection["SharedAccessKey"]), connection["HostName"], connection["SharedAccessKeyName"]);
    using (var put = new HttpRequestMessage(HttpMethod.Put, "enrollmentGroups/bench?api-version=2021-10-01"))
    {
        put.Headers.TryAddWithoutValidation("Authorization", serviceSas);
        put.Content = new StringContent($"{{\"enrollmentGroupId\":\"bench\",\"attestation\":{{\"type\":\"symmetricKey\",\"symmetricKey\":{{\"primaryKey\":\"{groupKey}\",\"secondaryKey\":\"{groupKey}\"}}}}}}", Encoding.UTF8, "application/json");
        using var response = await client.SendAsync(put);
        response.EnsureSuccessStatusCode();
    }

    await RunAsync("warmup", warmup);
    host.Refresh();
    var cpuBefore = host.TotalProcessorTime;
    var (elapsed, latencies) = await RunAsync("measure", devices);
    host.Refresh();
    var cpu = host.TotalProcessorTime - cpuBefore;
    Array.Sort(latencies);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"""
        devices {devices}, concurrency {concurrency}, {Environment.ProcessorCount} cores, client {(microsoft ? "microsoft" : "ours")}, {(newConnection ? "a new TLS connection per device" : "pooled connections")}
        registrations/s : {devices / elapsed.TotalSeconds:F0}
        latency (PUT register + GET operation) p50 {Percentile(latencies, 0.50):F1} ms, p90 {Percentile(latencies, 0.90):F1} ms, p99 {Percentile(latencies, 0.99):F1} ms, max {latencies[^1]:F1} ms
        emulator CPU    : {cpu.TotalSeconds:F2} s over {elapsed.TotalSeconds:F2} s = {cpu.TotalSeconds / elapsed.TotalSeconds * 100:F0}% of one core ({cpu.TotalMilliseconds / devices:F3} ms CPU per registration)
        emulator memory : working set {host.WorkingSet64 / 1048576.0:F0} MB, peak {host.PeakWorkingSet64 / 1048576.0:F0} MB
        """));

    async Task<(TimeSpan Elapsed, double[] Latencies)> RunAsync(string phase, int count)
    {
        var latencies = new double[count];
        var next = -1;
        var total = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                var id = $"{phase}-{i:D6}";
                var deviceKey = HMACSHA256.HashData(Convert.FromBase64String(groupKey), Encoding.UTF8.GetBytes(id));
                var sas = Sas(deviceKey, $"{idScope}/registrations/{id}", "registration");
                var one = Stopwatch.GetTimestamp();
                using var own = newConnection ? CreateClient(ca, endpoint, 1, microsoft) : null;
                var device = own ?? client;
                using var put = new HttpRequestMessage(HttpMethod.Put, $"{idScope}/registrations/{id}/register?api-version=2019-03-31");
                Authorize(put, sas);
                put.Content = microsoft
                    ? new StringContent($"{{\"registrationId\":\"{id}\"}}", Encoding.UTF8)
                    : new StringContent($"{{\"registrationId\":\"{id}\"}}", Encoding.UTF8, "application/json");
                if (microsoft)
                {
                    put.Content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse("application/json; charset=utf-8");
                }

                using var accepted = await device.SendAsync(put);
                if (accepted.StatusCode != HttpStatusCode.Accepted)
                {
                    throw new InvalidOperationException($"{id}: PUT answered {(int)accepted.StatusCode}");
                }

                using var body = JsonDocument.Parse(await accepted.Content.ReadAsStreamAsync());
                var operationId = body.RootElement.GetProperty("operationId").GetString()!;
                if (pollDelay > 0)
                {
                    // Microsoft's client waits 2 s (plus jitter) when Retry-After is 0, on its open connection.
                    await Task.Delay(pollDelay);
                }

                using var get = new HttpRequestMessage(HttpMethod.Get, $"{idScope}/registrations/{id}/operations/{operationId}?api-version=2019-03-31");
                Authorize(get, microsoft ? Sas(deviceKey, $"{idScope}/registrations/{id}", "registration") : sas);
                using var final = await device.SendAsync(get);
                if (final.StatusCode != HttpStatusCode.OK)
                {
                    throw new InvalidOperationException($"{id}: GET answered {(int)final.StatusCode}");
                }

                await final.Content.ReadAsByteArrayAsync();
                latencies[i] = Stopwatch.GetElapsedTime(one).TotalMilliseconds;
            }
        }));
        return (total.Elapsed, latencies);
    }
}
finally
{
    host.Kill(entireProcessTree: true);
    await host.WaitForExitAsync();
    Directory.Delete(data, recursive: true);
}

static double Percentile(double[] sorted, double p) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];

static string Sas(byte[] key, string resource, string keyName)
{
    var sr = WebUtility.UrlEncode(resource);
    var se = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
    var sig = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(sr + "\n" + se)));
    return $"SharedAccessSignature sr={sr}&sig={WebUtility.UrlEncode(sig)}&se={se}&skn={keyName}";
}

void Authorize(HttpRequestMessage request, string sas)
{
    if (microsoft)
    {
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("SharedAccessSignature", sas["SharedAccessSignature ".Length..]);
    }
    else
    {
        request.Headers.TryAddWithoutValidation("Authorization", sas);
    }
}

static HttpClient CreateClient(X509Certificate2 ca, Uri endpoint, int connections, bool microsoft)
{
    if (microsoft)
    {
        return CreateMicrosoftStyleClient(ca, endpoint);
    }

    var root = X509CertificateLoader.LoadCertificate(ca.RawData);
    var handler = new SocketsHttpHandler
    {
        MaxConnectionsPerServer = connections,
        SslOptions = new SslClientAuthenticationOptions
        {
            AllowTlsResume = Environment.GetEnvironmentVariable("BENCH_TLS_RESUME") != "0",
            // Trust exactly the emulator's CA; validation stays on.
            RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            {
                if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None || certificate is null)
                {
                    return false;
                }

                using var chain = new X509Chain();
                chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(root);
                chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
                using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
                return chain.Build(leaf);
            },
        },
    };
    return new HttpClient(handler) { BaseAddress = endpoint };
}

static HttpClient CreateMicrosoftStyleClient(X509Certificate2 ca, Uri endpoint)
{
    var root = X509CertificateLoader.LoadCertificate(ca.RawData);
#pragma warning disable CA2000 // The client owns the handler.
    var handler = new HttpClientHandler
    {
        ServerCertificateCustomValidationCallback = (_, certificate, _, errors) =>
        {
            if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None || certificate is null)
            {
                return false;
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(root);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(certificate);
        },
    };
#pragma warning restore CA2000
    var client = new HttpClient(handler) { BaseAddress = endpoint };
    foreach (var token in new[] { "FxVersion/10.0.0", "OSName/Linux", "OSVersion/Linux.6.1", "Microsoft.Azure.Devices.Provisioning.Transport.Http/1.17.3" })
    {
        client.DefaultRequestHeaders.UserAgent.Add(System.Net.Http.Headers.ProductInfoHeaderValue.Parse(token));
    }

    client.DefaultRequestHeaders.Add("User-Agent", "Microsoft.Azure.Devices.Provisioning.Client/1.19.4 (.NET 10.0.0; Linux; X64)");
    return client;
}

string StringArg(string name, string fallback)
{
    var args = Environment.GetCommandLineArgs();
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
}

int Arg(string name, int fallback)
{
    var args = Environment.GetCommandLineArgs();
    var at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

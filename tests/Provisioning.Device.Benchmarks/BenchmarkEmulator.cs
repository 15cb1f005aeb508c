using System.Diagnostics;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

using Provisioning.Emulator;
using Provisioning.Emulator.Enrollments;

namespace Provisioning.Device.Benchmarks;

/// <summary>The emulator under load: in this process (<see cref="DpsEmulator"/>), or as its own host process.</summary>
internal sealed class BenchmarkEmulator : IAsyncDisposable
{
    private readonly DpsEmulator? _inProcess;
    private readonly Process? _host;
    private readonly string? _dataDirectory;
    private readonly HttpClient? _service;
    private readonly string? _serviceHost;
    private readonly SymmetricKeyAttestation? _serviceKey;

    private BenchmarkEmulator(DpsEmulator dps)
    {
        _inProcess = dps;
        GlobalEndpoint = dps.GlobalEndpoint.ToString();
        MqttEndpoint = dps.MqttEndpoint;
        WebSocketEndpoint = dps.WebSocketEndpoint?.ToString();
        AmqpEndpoint = dps.AmqpEndpoint;
        AmqpWebSocketEndpoint = dps.AmqpWebSocketEndpoint?.ToString();
        IdScope = dps.IdScope;
        CaCertificate = X509CertificateLoader.LoadCertificate(dps.CertificateAuthority.Certificate.RawData);
    }

    private BenchmarkEmulator(Process host, string dataDirectory, JsonElement info)
    {
        _host = host;
        _dataDirectory = dataDirectory;
        GlobalEndpoint = info.GetProperty("globalEndpoint").GetString()!;
        MqttEndpoint = info.TryGetProperty("mqttEndpoint", out JsonElement mqtt) ? mqtt.GetString() : null;
        WebSocketEndpoint = info.TryGetProperty("webSocketEndpoint", out JsonElement ws) ? ws.GetString() : null;
        AmqpEndpoint = info.TryGetProperty("amqpEndpoint", out JsonElement amqp) ? amqp.GetString() : null;
        AmqpWebSocketEndpoint = info.TryGetProperty("amqpWebSocketEndpoint", out JsonElement amqpWs) ? amqpWs.GetString() : null;
        IdScope = info.GetProperty("idScope").GetString()!;
        CaCertificate = X509CertificateLoader.LoadCertificateFromFile(info.GetProperty("caCertificate").GetString()!);
        var connection = info.GetProperty("serviceConnectionString").GetString()!
            .Split(';').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        _serviceHost = connection["HostName"];
        // The service SAS has the device SAS's shape (sr, sig, se, skn): the client's own signer makes it.
        _serviceKey = new SymmetricKeyAttestation(connection["SharedAccessKeyName"], connection["SharedAccessKey"]);
        _service = new HttpClient(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = TrustCa } })
        {
            BaseAddress = new Uri(GlobalEndpoint),
        };
    }

    public string GlobalEndpoint { get; }

    /// <summary>DPS over MQTT as <c>host:port</c>, when the emulator serves it.</summary>
    public string? MqttEndpoint { get; }

    /// <summary>DPS over MQTT over WebSockets (<c>wss://host:port/$iothub/websocket</c>), when the emulator serves it.</summary>
    public string? WebSocketEndpoint { get; }

    /// <summary>DPS over AMQP as <c>host:port</c>, when the emulator serves it.</summary>
    public string? AmqpEndpoint { get; }

    /// <summary>DPS over AMQP over WebSockets (<c>wss://host:port/$iothub/websocket</c>), when the emulator serves it.</summary>
    public string? AmqpWebSocketEndpoint { get; }

    public string IdScope { get; }

    /// <summary>The CPU time the emulator host process has used so far; zero in-process (it is then this process's).</summary>
    public TimeSpan HostCpuTime
    {
        get
        {
            if (_host is null)
            {
                return TimeSpan.Zero;
            }

            _host.Refresh();
            return _host.TotalProcessorTime;
        }
    }

    public X509Certificate2 CaCertificate { get; }

    public static async Task<BenchmarkEmulator> StartInProcessAsync() =>
        new(await DpsEmulator.StartAsync(new DpsEmulatorOptions { RetryAfter = TimeSpan.Zero }));

    public static async Task<BenchmarkEmulator> StartProcessAsync()
    {
        string data = Directory.CreateTempSubdirectory("provisioning-bench-").FullName;
        string hostDll = Path.Combine(AppContext.BaseDirectory, "Provisioning.Emulator.dll");
        var host = Process.Start(new ProcessStartInfo("dotnet", ["exec", hostDll, "--data", data, "--port", "0", "--retry-after", "0"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        // Drain both pipes so a chatty host never blocks on a full one; keep stderr for the error message.
        var errors = new StringBuilder();
        host.OutputDataReceived += static (_, _) => { };
        host.ErrorDataReceived += (_, e) =>
        {
            lock (errors)
            {
                errors.AppendLine(e.Data);
            }
        };
        host.BeginOutputReadLine();
        host.BeginErrorReadLine();
        string infoPath = Path.Combine(data, DpsEmulator.InfoFileName);
        var waited = Stopwatch.StartNew();
        while (!File.Exists(infoPath) || new FileInfo(infoPath).Length == 0)
        {
            if (host.HasExited || waited.Elapsed > TimeSpan.FromSeconds(60))
            {
                lock (errors)
                {
                    throw new InvalidOperationException("The emulator host did not start: " + errors);
                }
            }

            await Task.Delay(100);
        }

        // The file is written once the host listens; a partial read is retried.
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                using var info = JsonDocument.Parse(await File.ReadAllTextAsync(infoPath));
                return new BenchmarkEmulator(host, data, info.RootElement.Clone());
            }
            catch (JsonException) when (attempt < 50)
            {
                await Task.Delay(100);
            }
        }
    }

    public async Task AddSymmetricKeyGroupAsync(string groupId, string primaryKey)
    {
        if (_inProcess is not null)
        {
            await _inProcess.Enrollments.AddSymmetricKeyGroupAsync(groupId, new EnrollmentSettings { PrimaryKey = primaryKey, SecondaryKey = primaryKey });
            return;
        }

        await PutServiceAsync(
            $"enrollmentGroups/{groupId}",
            new JsonObject
            {
                ["enrollmentGroupId"] = groupId,
                ["attestation"] = new JsonObject
                {
                    ["type"] = "symmetricKey",
                    ["symmetricKey"] = new JsonObject { ["primaryKey"] = primaryKey, ["secondaryKey"] = primaryKey },
                },
            });
    }

    public async Task AddTpmAsync(string registrationId, byte[] endorsementKey)
    {
        if (_inProcess is not null)
        {
            await _inProcess.Enrollments.AddTpmAsync(registrationId, endorsementKey);
            return;
        }

        await PutServiceAsync(
            $"enrollments/{registrationId}",
            new JsonObject
            {
                ["registrationId"] = registrationId,
                ["attestation"] = new JsonObject
                {
                    ["type"] = "tpm",
                    ["tpm"] = new JsonObject { ["endorsementKey"] = Convert.ToBase64String(endorsementKey) },
                },
            });
    }

    /// <summary>Client options trusting the emulator's CA (validation on), over <paramref name="transport"/>.</summary>
    public ProvisioningClientOptions CreateClientOptions(ProvisioningTransport transport)
    {
        var options = new ProvisioningClientOptions { Transport = transport };
        options.TrustedRootCertificates.Add(CaCertificate);
        if (transport == ProvisioningTransport.MqttWebSockets)
        {
            options.WebSocketPath = new Uri(WebSocketEndpoint!).AbsolutePath;
        }

        if (transport == ProvisioningTransport.AmqpWebSockets)
        {
            options.WebSocketPath = new Uri(AmqpWebSocketEndpoint!).AbsolutePath;
        }

        return options;
    }

    /// <summary>The endpoint a client over <paramref name="transport"/> dials.</summary>
    public string EndpointFor(ProvisioningTransport transport) => transport switch
    {
        ProvisioningTransport.Mqtt => "mqtts://" + (MqttEndpoint ?? throw new InvalidOperationException("The emulator does not serve DPS over MQTT.")),
        ProvisioningTransport.MqttWebSockets => new Uri(WebSocketEndpoint ?? throw new InvalidOperationException("The emulator does not serve MQTT over WebSockets."))
            .GetLeftPart(UriPartial.Authority),
        ProvisioningTransport.Amqp => "amqps://" + (AmqpEndpoint ?? throw new InvalidOperationException("The emulator does not serve DPS over AMQP.")),
        ProvisioningTransport.AmqpWebSockets => new Uri(AmqpWebSocketEndpoint ?? throw new InvalidOperationException("The emulator does not serve AMQP over WebSockets."))
            .GetLeftPart(UriPartial.Authority),
        _ => GlobalEndpoint,
    };

    public async ValueTask DisposeAsync()
    {
        _service?.Dispose();
        _serviceKey?.Dispose();
        if (_inProcess is not null)
        {
            await _inProcess.DisposeAsync();
        }

        if (_host is not null)
        {
            _host.Kill(entireProcessTree: true);
            await _host.WaitForExitAsync();
            _host.Dispose();
            Directory.Delete(_dataDirectory!, recursive: true);
        }

        CaCertificate.Dispose();
    }

    private async Task PutServiceAsync(string path, JsonObject body)
    {
        string sas = await _serviceKey!.CreateSasTokenAsync(_serviceHost!, DateTimeOffset.UtcNow.AddHours(1), "provisioningserviceowner");
        using var put = new HttpRequestMessage(HttpMethod.Put, path + "?api-version=2021-10-01") { Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json") };
        put.Headers.TryAddWithoutValidation("Authorization", sas);
        using HttpResponseMessage response = await _service!.SendAsync(put);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"The service API answered {(int)response.StatusCode} to PUT {path}: {await response.Content.ReadAsStringAsync()}");
        }
    }

    private bool TrustCa(object sender, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors)
    {
        if ((errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None || certificate is not X509Certificate2 leaf)
        {
            return false;
        }

        using var custom = new X509Chain();
        custom.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        custom.ChainPolicy.CustomTrustStore.Add(CaCertificate);
        custom.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return custom.Build(leaf);
    }
}

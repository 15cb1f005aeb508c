using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

using Provisioning.Emulator.Certificates;

namespace Provisioning.Emulator.Tests.Support;

/// <summary>Starts emulators for tests and talks to them with plain <see cref="HttpClient"/> over real TLS.</summary>
internal static class TestDps
{
    public const string DeviceApiVersion = "2019-03-31";

    public static async Task<DpsEmulator> StartAsync(Action<DpsEmulatorOptions>? configure = null)
    {
        var options = new DpsEmulatorOptions { RetryAfter = TimeSpan.Zero };
        configure?.Invoke(options);
        return await DpsEmulator.StartAsync(options, TestContext.Current.CancellationToken);
    }

    /// <summary>An HttpClient that trusts exactly the emulator's CA (validation stays on), optionally with a client certificate.</summary>
    public static HttpClient Client(DpsEmulator dps, X509Certificate2? clientCertificate = null) =>
        Client(dps.CertificateAuthority.Certificate, dps.GlobalEndpoint, clientCertificate);

    /// <summary>An HttpClient whose TLS handshake sends <paramref name="clientCertificate"/> with the chain it carries.</summary>
    public static HttpClient Client(DpsEmulator dps, SslStreamCertificateContext clientCertificate) =>
        Client(dps.CertificateAuthority.Certificate, dps.GlobalEndpoint, clientCertificateContext: clientCertificate);

    public static HttpClient Client(X509Certificate2 trustedRoot, Uri baseAddress, X509Certificate2? clientCertificate = null,
        SslStreamCertificateContext? clientCertificateContext = null)
    {
        var root = X509CertificateLoader.LoadCertificate(trustedRoot.RawData);
        var handler = new SocketsHttpHandler
        {
            MaxConnectionsPerServer = 256,
            SslOptions = new SslClientAuthenticationOptions
            {
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
                    return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
                },
                ClientCertificates = clientCertificate is null ? null : new X509CertificateCollection { clientCertificate },
                ClientCertificateContext = clientCertificateContext,
            },
        };
        return new HttpClient(handler) { BaseAddress = baseAddress };
    }

    public static HttpRequestMessage Register(DpsEmulator dps, string registrationId, string? body = null, string? sas = null, string apiVersion = DeviceApiVersion) =>
        Request(HttpMethod.Put, $"{dps.IdScope}/registrations/{registrationId}/register?api-version={apiVersion}", body ?? $"{{\"registrationId\":\"{registrationId}\"}}", sas);

    public static HttpRequestMessage Operation(DpsEmulator dps, string registrationId, string operationId, string? sas = null, string apiVersion = DeviceApiVersion) =>
        Request(HttpMethod.Get, $"{dps.IdScope}/registrations/{registrationId}/operations/{Uri.EscapeDataString(operationId)}?api-version={apiVersion}", null, sas);

    public static HttpRequestMessage Request(HttpMethod method, string path, string? body, string? sas)
    {
        var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        if (sas is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", sas);
        }

        return request;
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        using var doc = JsonDocument.Parse(text);
        return doc.RootElement.Clone();
    }

    /// <summary>PUT register then GET the operation once; returns the final JSON (asserting 202 then 200).</summary>
    public static async Task<JsonElement> RegisterToEndAsync(HttpClient client, DpsEmulator dps, string registrationId, string? sas, string? body = null)
    {
        using var put = await client.SendAsync(Register(dps, registrationId, body, sas), TestContext.Current.CancellationToken);
        var accepted = await JsonAsync(put);
        Assert.True(put.StatusCode == HttpStatusCode.Accepted, $"PUT answered {(int)put.StatusCode}: {accepted}");
        Assert.Equal("assigning", accepted.GetProperty("status").GetString());
        using var get = await client.SendAsync(Operation(dps, registrationId, accepted.GetProperty("operationId").GetString()!, sas), TestContext.Current.CancellationToken);
        var final = await JsonAsync(get);
        Assert.True(get.StatusCode == HttpStatusCode.OK, $"GET answered {(int)get.StatusCode}: {final}");
        return final;
    }

    /// <summary>Asserts a DPS error: status, errorCode, and the body shape of dps-protocol.md §1.7.</summary>
    public static async Task AssertErrorAsync(HttpResponseMessage response, HttpStatusCode status, int errorCode)
    {
        var body = await JsonAsync(response);
        Assert.True(response.StatusCode == status, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal(errorCode, body.GetProperty("errorCode").GetInt32());
        Assert.False(string.IsNullOrEmpty(body.GetProperty("trackingId").GetString()));
        Assert.False(string.IsNullOrEmpty(body.GetProperty("message").GetString()));
        Assert.True(body.GetProperty("timestampUtc").GetDateTime() > DateTime.UtcNow.AddMinutes(-5));
        Assert.Equal(MediaTypeHeaderValue.Parse("application/json; charset=utf-8").MediaType, response.Content.Headers.ContentType?.MediaType);
    }

    public static string TempDirectory()
    {
        var path = Path.Combine(Path.GetTempPath(), "dps-emu-tests", Guid.NewGuid().ToString("N"));
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            // The emulator refuses a data folder others can open.
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return path;
    }

    public static EmulatorCertificateAuthority Ca(DpsEmulator dps) => dps.CertificateAuthority;
}

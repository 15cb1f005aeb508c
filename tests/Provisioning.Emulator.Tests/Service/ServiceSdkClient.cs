using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;

using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests.Service;

/// <summary>
/// Sends service API requests the way the official service clients do (facts from their public source, re-written here):
/// the C# SDK v1 (Microsoft.Azure.Devices.Provisioning.Service: api-version 2019-03-31, <c>https://{HostName}</c> from the
/// connection string, <c>Accept: application/json</c>, no <c>Expect: 100-continue</c>, a product <c>User-Agent</c>, the SAS
/// for audience <c>HostName</c>, <c>If-Match</c> quoted, <c>x-ms-max-item-count</c>/<c>x-ms-continuation</c> on queries),
/// and the Azure CLI iot extension (api-version 2021-10-01, <c>Content-Type: application/json; charset=utf-8</c>,
/// <c>x-ms-client-request-id</c>, <c>Cache-Control: no-cache, must-revalidate</c> on queries).
/// </summary>
internal sealed class ServiceSdkClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _connectionString;

    public ServiceSdkClient(DpsEmulator dps, string apiVersion)
    {
        ApiVersion = apiVersion;
        _connectionString = dps.ServiceConnectionString;
        var hostName = Part("HostName");
        var root = X509CertificateLoader.LoadCertificate(dps.CertificateAuthority.Certificate.RawData);
#pragma warning disable CA2000 // The HttpClient owns the handler.
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

        // The SDK: new UriBuilder("https", HostName).Uri — a HostName with a port cannot be parsed there.
        BaseAddress = new UriBuilder("https", hostName.Contains(':', StringComparison.Ordinal) ? hostName.Split(':')[0] : hostName,
            hostName.Contains(':', StringComparison.Ordinal) ? int.Parse(hostName.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture) : 443).Uri;
        _http = new HttpClient(handler) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(100) };
        _http.DefaultRequestHeaders.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        _http.DefaultRequestHeaders.ExpectContinue = false;
    }

    public string ApiVersion { get; }

    public Uri BaseAddress { get; }

    public bool IsCli => ApiVersion == "2021-10-01";

    public string Part(string name) =>
        _connectionString.Split(';').Select(p => p.Split('=', 2)).First(p => p[0] == name)[1];

    public async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body = null, string? ifMatch = null,
        IReadOnlyDictionary<string, string>? headers = null)
    {
        using var request = new HttpRequestMessage(method, $"{path}?api-version={ApiVersion}");
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        var hostName = Part("HostName");
        request.Headers.Add("Authorization", TestSas.Create(Convert.FromBase64String(Part("SharedAccessKey")), hostName, DateTimeOffset.UtcNow.AddHours(1), Part("SharedAccessKeyName")));
        request.Headers.Add("UserAgent", "Microsoft.Azure.Devices.Provisioning.Service/1.19.0 (.NET 8.0.0; Linux; X64)");
        if (IsCli)
        {
            request.Headers.Add("x-ms-client-request-id", Guid.NewGuid().ToString());
        }

        foreach (var (key, value) in headers ?? new Dictionary<string, string>())
        {
            request.Headers.Add(key, value);
        }

        if (ifMatch is not null)
        {
            // Quoted unless it already is (enrollment etags carry their quotes in the body; registration etags do not).
            request.Headers.IfMatch.Add(new EntityTagHeaderValue(ifMatch.StartsWith('"') ? ifMatch : "\"" + ifMatch + "\""));
        }

        return await _http.SendAsync(request, TestContext.Current.CancellationToken);
    }

    /// <summary>Runs a query to its end as the SDK's Query.NextAsync loop does; returns each page's items and headers.</summary>
    public async Task<List<(List<System.Text.Json.JsonElement> Items, string ItemType, string? Continuation)>> QueryAllAsync(string path, int pageSize)
    {
        var pages = new List<(List<System.Text.Json.JsonElement>, string, string?)>();
        string? continuation = null;
        do
        {
            var headers = new Dictionary<string, string> { ["x-ms-max-item-count"] = pageSize.ToString(System.Globalization.CultureInfo.InvariantCulture) };
            if (continuation is not null)
            {
                headers["x-ms-continuation"] = continuation;
            }

            using var response = await SendAsync(HttpMethod.Post, path, "{\"query\":\"*\"}", headers: headers);
            var body = await TestDps.JsonAsync(response);
            Assert.True(response.IsSuccessStatusCode, $"{(int)response.StatusCode}: {body}");
            var itemType = Assert.Single(response.Headers.GetValues("x-ms-item-type"));
            continuation = response.Headers.TryGetValues("x-ms-continuation", out var token) ? Assert.Single(token) : null;
            pages.Add(([.. body.EnumerateArray()], itemType, continuation));
            Assert.True(pages.Count <= 100, "the query never ended");
        }
        while (continuation is not null);

        return pages;
    }

    public void Dispose() => _http.Dispose();
}

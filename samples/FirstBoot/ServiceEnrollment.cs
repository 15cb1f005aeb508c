using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace Provisioning.Samples.FirstBoot;

/// <summary>
/// <c>--enroll</c>: puts this device's individual enrollment into a separately run emulator through its service API
/// (<c>PUT /enrollments/{id}?api-version=2021-10-01</c>, as the DPS service SDKs do), signed with the service connection
/// string from <c>emulator.json</c>. A PUT without <c>If-Match</c> creates or replaces: running it again is harmless.
/// </summary>
internal static class ServiceEnrollment
{
    private const string ApiVersion = "2021-10-01";
    private static readonly TimeSpan TokenLifetime = TimeSpan.FromMinutes(5);

    public static async Task EnrollAsync(string serviceConnectionString, X509Certificate2 emulatorCa, string registrationId, JsonObject attestation,
        CancellationToken cancellationToken)
    {
        var (host, keyName, key) = ParseConnectionString(serviceConnectionString);
        try
        {
            using var handler = new SocketsHttpHandler
            {
                SslOptions = new SslClientAuthenticationOptions { RemoteCertificateValidationCallback = (_, certificate, _, errors) => TrustsEmulatorCa(certificate, errors, emulatorCa) },
            };
            using var http = new HttpClient(handler);
            var body = new JsonObject { ["registrationId"] = registrationId, ["attestation"] = attestation };
            using var request = new HttpRequestMessage(HttpMethod.Put, new Uri($"https://{host}/enrollments/{Uri.EscapeDataString(registrationId)}?api-version={ApiVersion}"))
            {
                Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"),
            };
            request.Headers.TryAddWithoutValidation("Authorization", SasToken(host, keyName, key, DateTimeOffset.UtcNow + TokenLifetime));
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                var problem = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
                throw new InvalidOperationException($"the emulator's service API refused the enrollment: {(int)response.StatusCode} {problem}");
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    }

    /// <summary><c>SharedAccessSignature sr={host}&amp;sig=…&amp;se=…&amp;skn={keyName}</c>: HMAC-SHA256 of <c>sr + "\n" + se</c>
    /// with the service key (dps-protocol.md §11.3), the audience being the service host as in the connection string.</summary>
    private static string SasToken(string host, string keyName, byte[] key, DateTimeOffset expiry)
    {
        var resource = Uri.EscapeDataString(host);
        var se = expiry.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var signature = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(resource + "\n" + se));
        return $"SharedAccessSignature sr={resource}&sig={Uri.EscapeDataString(Convert.ToBase64String(signature))}&se={se}&skn={Uri.EscapeDataString(keyName)}";
    }

    private static (string Host, string KeyName, byte[] Key) ParseConnectionString(string text)
    {
        string? host = null, keyName = null, key = null;
        foreach (var part in text.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            switch (part[..eq])
            {
                case "HostName": host = part[(eq + 1)..]; break;
                case "SharedAccessKeyName": keyName = part[(eq + 1)..]; break;
                case "SharedAccessKey": key = part[(eq + 1)..]; break;
                default: break;
            }
        }

        if (host is null || keyName is null || key is null)
        {
            // The connection string holds the key: never echo it.
            throw new ArgumentException("the emulator's serviceConnectionString lacks HostName, SharedAccessKeyName or SharedAccessKey");
        }

        try
        {
            return (host, keyName, Convert.FromBase64String(key));
        }
        catch (FormatException)
        {
            throw new ArgumentException("the emulator's service key is not base64");
        }
    }

    /// <summary>TLS validation stays on: the chain must end at the emulator's CA (and only there), and the name must match.</summary>
    private static bool TrustsEmulatorCa(X509Certificate? certificate, SslPolicyErrors errors, X509Certificate2 ca)
    {
        if (certificate is null || (errors & ~SslPolicyErrors.RemoteCertificateChainErrors) != SslPolicyErrors.None)
        {
            return false;
        }

        using var leaf = X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(leaf);
    }
}

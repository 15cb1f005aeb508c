using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using MQTTnet.Server;
using Provisioning.Emulator.Device;

namespace Provisioning.Emulator.Hubs;

/// <summary>The credentials API of a hub (dps-protocol.md §9, hub api-version 2025-08-01-preview): a device publishes
/// <c>$iothub/credentials/POST/issueCertificate/?$rid={rid}</c> with <c>{"id","csr","replace"?}</c>; the hub answers
/// <c>$iothub/credentials/res/202/?$rid=</c> <c>{"correlationId","operationExpires"}</c>, then <c>…/res/200/?$rid=</c>
/// <c>{"correlationId","certificates":[leaf, …, root]}</c>, or an error <c>{errorCode,message,trackingId,timestampUtc,info,retryAfter}</c>.
/// The new certificate comes from the emulator's CA and replaces the registry's thumbprint, so the device's next
/// connection must present it.</summary>
public sealed partial class EmulatedIotHub
{
    internal const string IssueCertificatePrefix = "$iothub/credentials/POST/issueCertificate/";
    internal const string CredentialsResponsePrefix = "$iothub/credentials/res/";

    /// <summary>IoT Hub's limit on the <c>csr</c> field: 8 KB of base64.</summary>
    private const int MaxCsrChars = 8 * 1024;

    private readonly ConcurrentDictionary<string, ConcurrentQueue<(int Status, int RetryAfterSeconds)>> _credentialFaults = new(StringComparer.Ordinal);

    /// <summary>Fault injection for tests: the device's next <paramref name="count"/> certificate requests are refused with
    /// <paramref name="status"/> (e.g. 429) and <c>retryAfter</c> <paramref name="retryAfterSeconds"/>.</summary>
    public void FailCertificateRequests(string deviceId, int status, int retryAfterSeconds, int count = 1)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(status, 400);
        var queue = _credentialFaults.GetOrAdd(deviceId, _ => new());
        for (var i = 0; i < count; i++)
        {
            queue.Enqueue((status, retryAfterSeconds));
        }
    }

    /// <summary>Fault injection for tests: the device's next <paramref name="count"/> certificate requests are accepted (202)
    /// and then answered 200 with a "certificate" that is not one (a hostile or broken hub).</summary>
    public void AnswerCertificateRequestsWithGarbage(string deviceId, int count = 1)
    {
        var queue = _credentialFaults.GetOrAdd(deviceId, _ => new());
        for (var i = 0; i < count; i++)
        {
            queue.Enqueue((200, 0));
        }
    }

    /// <summary>How many certificates this hub issued (renewals).</summary>
    public int CertificatesIssued => Volatile.Read(ref _certificatesIssued);

    private int _certificatesIssued;

    private async Task IssueCertificateAsync(HubDevice device, string topic, byte[] payload, InterceptingPublishEventArgs e)
    {
        var rid = HubTopics.QueryValue(topic, "$rid") ?? string.Empty;
        var answer = $"?$rid={Uri.EscapeDataString(rid)}";
        var correlationId = Guid.NewGuid().ToString();
        if (_options.CertificateIssuer is not { } issuer)
        {
            await CredentialErrorAsync(device.DeviceId, answer, 405, 405001, "This hub has no certificate authority.", correlationId, null, e.CancellationToken).ConfigureAwait(false);
            return;
        }

        if (_credentialFaults.TryGetValue(device.DeviceId, out var faults) && faults.TryDequeue(out var fault))
        {
            if (fault.Status == 200)
            {
                await SendAsync(device.DeviceId, $"{CredentialsResponsePrefix}202/{answer}", Encoding.UTF8.GetBytes($"{{\"correlationId\":\"{correlationId}\"}}"), e.CancellationToken).ConfigureAwait(false);
                await SendAsync(device.DeviceId, $"{CredentialsResponsePrefix}200/{answer}",
                    Encoding.UTF8.GetBytes($"{{\"correlationId\":\"{correlationId}\",\"certificates\":[\"bm90IGEgY2VydGlmaWNhdGU=\"]}}"), e.CancellationToken).ConfigureAwait(false);
                return;
            }

            await CredentialErrorAsync(device.DeviceId, answer, fault.Status, fault.Status * 1000 + 1, "Injected fault.", correlationId, fault.RetryAfterSeconds, e.CancellationToken).ConfigureAwait(false);
            return;
        }

        // The payload checks answer at once, with the codes IoT Hub answers (see HubCredentialErrors); the CSR's content is
        // verified after the 202, as the service's certificate backend does.
        if (ReadIssueRequest(payload, device.DeviceId, out var csr) is { } refusal)
        {
            await CredentialErrorAsync(device.DeviceId, answer, refusal.ErrorCode / 1000, refusal.ErrorCode, refusal.Message, correlationId, null, e.CancellationToken).ConfigureAwait(false);
            return;
        }

        // The CN must stay what DPS issued: the registration id (the device id for an individual enrollment).
        var registered = await _options.Registry.FindAsync(HubHostName, device.DeviceId, e.CancellationToken).ConfigureAwait(false);
        if (registered is null)
        {
            await CredentialErrorAsync(device.DeviceId, answer, 404, 404001, "The device is gone.", correlationId, null, e.CancellationToken).ConfigureAwait(false);
            return;
        }

        var expires = _options.TimeProvider.GetUtcNow().AddMinutes(5);
        var accepted = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(accepted))
        {
            writer.WriteStartObject();
            writer.WriteString("correlationId", correlationId);
            writer.WriteString("operationExpires", expires.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteEndObject();
        }

        await SendAsync(device.DeviceId, $"{CredentialsResponsePrefix}202/{answer}", accepted.WrittenSpan.ToArray(), e.CancellationToken).ConfigureAwait(false);

        if (!CsrReader.TryRead(csr, CommonNameOf(e) ?? device.DeviceId, out var request, out _, out var problem))
        {
            // IoT Hub: 202, then 400037 with credentialError 400000 "CSR did not pass verification", whatever the CSR's fault.
            await CredentialErrorAsync(device.DeviceId, answer, 400, HubCredentialErrors.CsrVerificationFailed, "Unable to complete the certificate request: " + problem,
                correlationId, null, e.CancellationToken, credentialError: "400000", credentialMessage: "CSR did not pass verification").ConfigureAwait(false);
            return;
        }

        var chain = issuer(request!);
        using var leaf = X509CertificateLoader.LoadCertificate(chain[0]);
        await _options.Registry.UpsertAsync(registered with { Kind = registered.Kind == HubCredentialKind.X509 ? HubCredentialKind.X509 : HubCredentialKind.CertificateAuthority, PrimaryKey = null, SecondaryKey = null, Thumbprint = leaf.GetCertHashString(HashAlgorithmName.SHA256) }, e.CancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _certificatesIssued);
        var body = new System.Buffers.ArrayBufferWriter<byte>(2048);
        using (var writer = new Utf8JsonWriter(body))
        {
            writer.WriteStartObject();
            writer.WriteString("correlationId", correlationId);
            writer.WriteStartArray("certificates");
            foreach (var der in chain)
            {
                writer.WriteStringValue(Convert.ToBase64String(der));
            }

            writer.WriteEndArray();
            writer.WriteEndObject();
        }

        await SendAsync(device.DeviceId, $"{CredentialsResponsePrefix}200/{answer}", body.WrittenSpan.ToArray(), e.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>The CN of the client certificate the device connected with, if any.</summary>
    private static string? CommonNameOf(InterceptingPublishEventArgs e) =>
        e.SessionItems[CertificateNameItem] as string;

    /// <summary>Checks the request payload as IoT Hub does before accepting it: a JSON object with exactly <c>id</c> (the
    /// connected device's), <c>csr</c> (base64, at most 8 KB) and an optional <c>replace</c>; null when it passes, and then
    /// <paramref name="csr"/> is the request's <c>csr</c>.</summary>
    private static (int ErrorCode, string Message)? ReadIssueRequest(byte[] payload, string deviceId, out string csr)
    {
        csr = "";
        if (payload.Length == 0)
        {
            return (HubCredentialErrors.InvalidRequest, "Issue certificate request payload is missing: send a JSON object with 'id' and 'csr'.");
        }

        try
        {
            using var document = JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = 4 });
            var root = document.RootElement;
            string? id = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
            if (string.IsNullOrEmpty(id))
            {
                return (HubCredentialErrors.InvalidRequest, "Issue certificate request 'id' field is invalid or missing.");
            }

            if (!string.Equals(id, deviceId, StringComparison.Ordinal))
            {
                return (HubCredentialErrors.InvalidRequest, "Issue certificate request 'id' field does not match the authenticated device id.");
            }

            foreach (var property in root.EnumerateObject())
            {
                if (property.Name is not ("id" or "csr" or "replace"))
                {
                    return (HubCredentialErrors.InvalidRequest, "Issue certificate request payload contains an unknown field: only 'id', 'csr' and 'replace' are allowed.");
                }
            }

            if (root.TryGetProperty("replace", out var r))
            {
                var replace = r.ValueKind == JsonValueKind.String ? r.GetString()! : "";
                if (replace != "*" && !IsRequestId(replace))
                {
                    return (HubCredentialErrors.InvalidRequest, "Issue certificate request 'replace' field has an invalid format: a request id is 4 to 36 letters, digits and inner hyphens; '*' replaces any pending request.");
                }

                if (replace != "*")
                {
                    // The emulator finishes every request before answering, so no request is ever pending.
                    return (HubCredentialErrors.NoRequestToReplace, "No active certificate request found to replace.");
                }
            }

            string? text = root.TryGetProperty("csr", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            if (string.IsNullOrEmpty(text))
            {
                return (HubCredentialErrors.InvalidRequest, "Issue certificate request 'csr' field is invalid or missing.");
            }

            if (text.Length > MaxCsrChars)
            {
                return (HubCredentialErrors.InvalidRequest, "Issue certificate request 'csr' field exceeds the maximum length.");
            }

            if (!Convert.TryFromBase64String(text, new byte[text.Length], out _))
            {
                return (HubCredentialErrors.InvalidRequest, "Issue certificate request 'csr' field is not valid base64.");
            }

            csr = text;
            return null;
        }
        catch (JsonException)
        {
            return (HubCredentialErrors.MalformedJson, "cannot decode json format");
        }
    }

    private static bool IsRequestId(string value) =>
        value.Length is >= 4 and <= 36 && value[0] != '-' && value[^1] != '-' && value.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '-');

    private Task CredentialErrorAsync(string deviceId, string answer, int status, int errorCode, string message, string correlationId, int? retryAfter,
        CancellationToken cancellationToken, string? credentialError = null, string? credentialMessage = null)
    {
        var body = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(body))
        {
            writer.WriteStartObject();
            writer.WriteNumber("errorCode", errorCode);
            writer.WriteString("message", message);
            writer.WriteString("trackingId", Guid.NewGuid().ToString("N"));
            writer.WriteString("timestampUtc", _options.TimeProvider.GetUtcNow().UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
            writer.WriteStartObject("info");
            writer.WriteString("correlationId", correlationId);
            writer.WriteString("credentialError", credentialError ?? status.ToString(CultureInfo.InvariantCulture));
            writer.WriteString("credentialMessage", credentialMessage ?? message);
            writer.WriteEndObject();
            if (retryAfter is { } seconds)
            {
                writer.WriteNumber("retryAfter", seconds);
            }

            writer.WriteEndObject();
        }

        return SendAsync(deviceId, $"{CredentialsResponsePrefix}{status}/{answer}", body.WrittenSpan.ToArray(), cancellationToken);
    }
}

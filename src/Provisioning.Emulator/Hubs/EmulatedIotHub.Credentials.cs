using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
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
            await CredentialErrorAsync(device.DeviceId, answer, fault.Status, fault.Status * 1000 + 1, "Injected fault.", correlationId, fault.RetryAfterSeconds, e.CancellationToken).ConfigureAwait(false);
            return;
        }

        string? id = null, csr = null;
        try
        {
            using var document = JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = 4 });
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                id = document.RootElement.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
                csr = document.RootElement.TryGetProperty("csr", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
            }
        }
        catch (JsonException)
        {
        }

        if (id is null || csr is null)
        {
            await CredentialErrorAsync(device.DeviceId, answer, 400, 400001, "The body is not {\"id\",\"csr\"}.", correlationId, null, e.CancellationToken).ConfigureAwait(false);
            return;
        }

        if (!string.Equals(id, device.DeviceId, StringComparison.Ordinal))
        {
            await CredentialErrorAsync(device.DeviceId, answer, 400, 400004, "The id is not the connected device's.", correlationId, null, e.CancellationToken).ConfigureAwait(false);
            return;
        }

        // The CN must stay what DPS issued: the registration id (the device id for an individual enrollment).
        var registered = await _options.Registry.FindAsync(HubHostName, device.DeviceId, e.CancellationToken).ConfigureAwait(false);
        if (registered is null)
        {
            await CredentialErrorAsync(device.DeviceId, answer, 404, 404001, "The device is gone.", correlationId, null, e.CancellationToken).ConfigureAwait(false);
            return;
        }

        if (!CsrReader.TryRead(csr, CommonNameOf(e) ?? device.DeviceId, out var request, out var code, out var problem))
        {
            await CredentialErrorAsync(device.DeviceId, answer, code / 1000, code, problem, correlationId, null, e.CancellationToken).ConfigureAwait(false);
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

        var chain = issuer(request!);
        using var leaf = X509CertificateLoader.LoadCertificate(chain[0]);
        await _options.Registry.UpsertAsync(registered with { Kind = HubCredentialKind.X509, PrimaryKey = null, SecondaryKey = null, Thumbprint = leaf.GetCertHashString(HashAlgorithmName.SHA256) }, e.CancellationToken).ConfigureAwait(false);
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

    private Task CredentialErrorAsync(string deviceId, string answer, int status, int errorCode, string message, string correlationId, int? retryAfter, CancellationToken cancellationToken)
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
            writer.WriteString("credentialError", status.ToString(CultureInfo.InvariantCulture));
            writer.WriteString("credentialMessage", message);
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

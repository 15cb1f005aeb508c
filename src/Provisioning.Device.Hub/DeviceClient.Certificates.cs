using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using MQTTnet;
using Provisioning.Device.Hub.Mqtt;

namespace Provisioning.Device.Hub;

/// <summary>Renewal of a certificate DPS issued, from the hub (dps-protocol.md §9, hub api-version 2025-08-01-preview):
/// <c>$iothub/credentials/POST/issueCertificate/?$rid=</c> with <c>{"id","csr","replace":"*"}</c>; the hub answers 202
/// <c>{"correlationId","operationExpires"}</c>, then 200 <c>{"correlationId","certificates":[…]}</c>, or an error with
/// <c>retryAfter</c>. The new chain is checked against the key, then the connection is drained and reopened with it, so no
/// acknowledged message is lost.</summary>
public sealed partial class DeviceClient
{
    private const string IssueCertificatePrefix = "$iothub/credentials/POST/issueCertificate/";

    /// <summary>The floor between renewal attempts when the hub gives no retryAfter.</summary>
    private static readonly TimeSpan MinRenewalRetry = TimeSpan.FromSeconds(1);

    /// <summary>How long a 202 may be followed by nothing when the hub names no operationExpires.</summary>
    private static readonly TimeSpan MaxCertificateOperation = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<long, Channel<(int Status, byte[] Body)>> _credentialRequests = new();
    private DateTimeOffset _lastCertificateRenewal = DateTimeOffset.MinValue;

    /// <summary>When a failed renewal may be tried again (the hub's retryAfter, or the backoff): kept across reconnections, so
    /// a dropped connection does not bring the next attempt forward.</summary>
    private DateTimeOffset _nextCertificateRenewalAttempt = DateTimeOffset.MinValue;

    /// <summary>When the current issued certificate is due for renewal: <see cref="DeviceClientOptions.CertificateRenewalThreshold"/>
    /// of its lifetime before it expires.</summary>
    internal DateTimeOffset CertificateRenewalTime(HubAuthentication.IssuedCertificateAuthentication issued) =>
        issued.NotAfter - ((issued.NotAfter - issued.NotBefore) * _options.CertificateRenewalThreshold);

    /// <summary>Waits for the renewal time of the issued certificate (returning false if the connection drops first), then
    /// renews it on this connection; true once the new certificate is in place and the connection must be reopened.</summary>
    private async Task<bool> WaitForDropOrCertificateRenewalAsync(HubSession session, HubAuthentication.IssuedCertificateAuthentication issued, CancellationToken cancellationToken)
    {
        // A floor between renewals: a certificate due as soon as it is issued (a tiny lifetime) is not renewed in a tight loop.
        var floor = _lastCertificateRenewal + MinRenewalRetry;
        floor = _nextCertificateRenewalAttempt > floor ? _nextCertificateRenewalAttempt : floor;
        var due = CertificateRenewalTime(issued) > floor ? CertificateRenewalTime(issued) : floor;
        for (var attempt = 1; ; attempt++)
        {
            if (!await WaitUntilAsync(due, session, cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            try
            {
                await RenewCertificateAsync(session, issued, cancellationToken).ConfigureAwait(false);
                _lastCertificateRenewal = _time.GetUtcNow();
                _nextCertificateRenewalAttempt = DateTimeOffset.MinValue;
                return true;
            }
            catch (HubException ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Bounded by the certificate itself: once it expired the hub refuses the next connection, which ends in the
                // refusal path (ReprovisionRequired), not in more attempts here.
                var now = _time.GetUtcNow();
                if (now >= issued.NotAfter)
                {
                    HubClientLog.CertificateRenewalFailed(_logger, DeviceId, attempt, ex.Message);
                    await session.Closed.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
                    return false;
                }

                var wait = ex.RetryAfter is { } retry && retry > MinRenewalRetry ? retry : BackoffDelay(attempt) < MinRenewalRetry ? MinRenewalRetry : BackoffDelay(attempt);
                HubClientLog.CertificateRenewalFailed(_logger, DeviceId, attempt, ex.Message);
                due = now + wait;
                _nextCertificateRenewalAttempt = due;
            }
        }
    }

    /// <summary>True at <paramref name="due"/> (or at once when the clock is already past it); false when the connection closed first
    /// or on cancellation (disposal), which the caller reads from its token. Shared by SAS token and certificate renewal.</summary>
    private async Task<bool> WaitUntilAsync(DateTimeOffset due, HubSession session, CancellationToken cancellationToken)
    {
        var wait = due - _time.GetUtcNow();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var timer = wait > TimeSpan.Zero ? Task.Delay(wait, _time, stop.Token) : Task.CompletedTask;
        if (!timer.IsCompleted && _time.GetUtcNow() >= due)
        {
            timer = Task.CompletedTask; // the clock passed the time while the timer was armed
        }

        var first = await Task.WhenAny(timer, session.Closed).ConfigureAwait(false);
        await stop.CancelAsync().ConfigureAwait(false);
        // On disposal the caller sees the cancellation on its token: no exception, which a small device pays in RSS.
        return !cancellationToken.IsCancellationRequested && first == timer && !session.Closed.IsCompleted;
    }

    /// <summary>Stores a renewed certificate before the client switches to it (the <see cref="DeviceConnector"/> points it at
    /// the registration cache); an exception aborts the switch.</summary>
    internal Func<IReadOnlyList<string>, CertificateSigningKey, CancellationToken, ValueTask>? StoreRenewedCertificate { get; set; }

    /// <summary>One renewal, crash-safe: with a new key, the successor is created beside the current key (the other TPM handle
    /// or key file of the pair) and the current key stays in use; only once the hub's chain is received and checked against the
    /// successor is it stored (<see cref="DeviceClientOptions.CertificateRenewed"/>, then the registration cache, one atomic
    /// write), the connection switched, and the replaced key retired (evicted, or its file deleted). Any failure before the
    /// store retires the successor instead and leaves the current key and certificate working.</summary>
    private async Task RenewCertificateAsync(HubSession session, HubAuthentication.IssuedCertificateAuthentication issued, CancellationToken cancellationToken)
    {
        using var activity = HubDiagnostics.Source.StartActivity("DeviceClient.RenewCertificate");
        activity?.SetTag("iothub.device_id", DeviceId);
        var current = issued.Key!;
        CertificateSigningKey key;
        try
        {
            key = _options.RenewCertificateWithNewKey ? await NewKeyAsync(current, cancellationToken).ConfigureAwait(false) : current;
        }
        catch (Exception ex) when (ex is Tpm.TpmException or IOException or UnauthorizedAccessException or CryptographicException or InvalidDataException)
        {
            throw new HubException($"The new certificate key could not be created ({ex.Message}); the current one stays.", 0, isTransient: true, ex);
        }

        var stored = false;
        var handedOut = false;
        try
        {
            IReadOnlyList<string> chain;
            try
            {
                chain = await RequestCertificateAsync(session, key, issued.CommonName, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is Tpm.TpmException or CryptographicException)
            {
                throw new HubException($"The certificate signing request could not be signed ({ex.Message}).", 0, isTransient: true, ex);
            }

            if (IssuedCertificateValidator.Check(chain, key, issued.CommonName, _time.GetUtcNow(), trustedRoots: null) is { } problem)
            {
                throw new HubException($"The hub's new certificate was refused: {problem}.", 200, isTransient: true);
            }

            try
            {
                if (_options.CertificateRenewed is { } renewed)
                {
                    await renewed(chain, key, cancellationToken).ConfigureAwait(false);
                    handedOut = true;
                }

                if (StoreRenewedCertificate is { } store)
                {
                    await store(chain, key, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException and not HubException)
            {
                throw new HubException($"The renewed certificate could not be stored ({ex.GetType().Name}: {ex.Message}); the current one stays.", 0, isTransient: true, ex);
            }

            stored = true;
            issued.Swap(chain, key);
            HubClientLog.CertificateRenewed(_logger, DeviceId, issued.NotAfter);
        }
        finally
        {
            if (!stored && !ReferenceEquals(key, current))
            {
                // Once the application has the new chain (CertificateRenewed returned), its key stays where it is even if the
                // cache write failed: the application may have stored the chain; the next renewal's successor replaces it.
                if (!handedOut)
                {
                    await RetireQuietlyAsync(key).ConfigureAwait(false);
                }

                key.Dispose();
            }
        }

        if (!ReferenceEquals(key, current))
        {
            // The new certificate is stored and in use: the replaced key goes (a failure here leaves an unused key behind, which
            // the next renewal's successor replaces; the certificate in use is not affected).
            await RetireQuietlyAsync(current).ConfigureAwait(false);
        }
    }

    private async Task RetireQuietlyAsync(CertificateSigningKey key)
    {
        try
        {
            // Not cancelled with the connection: a half-done cleanup is worse than a finished one.
            await key.RetireAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Whatever the key store says (a TPM error, an unreadable file), a failed cleanup must neither stop the connection
            // loop nor hide the renewal's own error: it is logged, and the next renewal's successor replaces what was left.
            HubClientLog.CertificateKeyNotRetired(_logger, DeviceId, ex.Message);
        }
    }

    private async Task<IReadOnlyList<string>> RequestCertificateAsync(HubSession session, CertificateSigningKey key, string commonName, CancellationToken cancellationToken)
    {
        var csr = await key.CreateSigningRequestAsync(commonName, cancellationToken).ConfigureAwait(false);
        var rid = Interlocked.Increment(ref _nextRid);
        var responses = Channel.CreateBounded<(int, byte[])>(new BoundedChannelOptions(4) { FullMode = BoundedChannelFullMode.DropOldest });
        _credentialRequests[rid] = responses;
        try
        {
            var body = new System.Buffers.ArrayBufferWriter<byte>(1024);
            using (var writer = new Utf8JsonWriter(body))
            {
                writer.WriteStartObject();
                writer.WriteString("id", DeviceId);
                writer.WriteString("csr", Convert.ToBase64String(csr));
                // IoT Hub answers 409004 to a request while another is pending (one this client gave up on after a timeout or a
                // dropped connection): "*" cancels any pending one, so a retry is never locked out until it expires.
                writer.WriteString("replace", "*");
                writer.WriteEndObject();
            }

            if (!session.TryEnter())
            {
                throw new HubException("The connection closed before the certificate request was sent.", 0, isTransient: true);
            }

            try
            {
                await session.Client.PublishAsync(
                    new MqttApplicationMessage
                    {
                        Topic = string.Create(CultureInfo.InvariantCulture, $"{IssueCertificatePrefix}?$rid={rid}"),
                        Payload = new System.Buffers.ReadOnlySequence<byte>(body.WrittenMemory),
                        QualityOfServiceLevel = MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce,
                    },
                    cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                session.Exit();
            }

            return await ReadCertificateResponsesAsync(responses.Reader, session, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _credentialRequests.TryRemove(rid, out _);
        }
    }

    /// <summary>Reads 202 (accepted) then 200 (the certificates); an error status becomes a <see cref="HubException"/> with the
    /// hub's retryAfter.</summary>
    private async Task<IReadOnlyList<string>> ReadCertificateResponsesAsync(ChannelReader<(int Status, byte[] Body)> responses, HubSession session, CancellationToken cancellationToken)
    {
        var deadline = _time.GetUtcNow() + _options.OperationTimeout;
        while (true)
        {
            var left = deadline - _time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                throw new HubException("The hub did not finish the certificate request in time.", 0, isTransient: true);
            }

            var read = responses.ReadAsync(cancellationToken).AsTask();
            Task first;
            try
            {
                first = await Task.WhenAny(read, session.Closed).WaitAsync(left, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException ex)
            {
                throw new HubException("The hub did not finish the certificate request in time.", 0, isTransient: true, ex);
            }

            if (first != read)
            {
                throw new HubException("The connection closed during the certificate request.", 0, isTransient: true);
            }

            var (status, body) = await read.ConfigureAwait(false);
            using var document = ParseBody(body, status);
            var root = document.RootElement;
            if (status == 202)
            {
                // Accepted: the answer comes by operationExpires (bounded).
                var expires = root.TryGetProperty("operationExpires", out var e) && e.TryGetDateTimeOffset(out var at) ? at : _time.GetUtcNow() + _options.OperationTimeout;
                var cap = _time.GetUtcNow() + MaxCertificateOperation;
                deadline = expires > deadline ? (expires < cap ? expires : cap) : deadline;
                continue;
            }

            if (status == 200)
            {
                if (!root.TryGetProperty("certificates", out var list) || list.ValueKind != JsonValueKind.Array || list.GetArrayLength() is 0 or > IssuedCertificateValidator.MaxChainLength)
                {
                    throw new HubException("The hub's certificate response has no certificates.", status, isTransient: true);
                }

                return list.EnumerateArray().Select(c => c.ValueKind == JsonValueKind.String ? c.GetString()! : string.Empty).ToArray();
            }

            TimeSpan? retryAfter = root.TryGetProperty("retryAfter", out var r) && r.TryGetInt32(out var seconds) && seconds is > 0 and <= 86400
                ? TimeSpan.FromSeconds(seconds)
                : null;
            var message = root.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
            var code = root.TryGetProperty("errorCode", out var c) && c.TryGetInt32(out var n) ? n : 0;
            throw new HubException(
                string.Create(CultureInfo.InvariantCulture, $"The hub refused the certificate request: {status} {code} {message}"),
                status,
                isTransient: status is 429 or >= 500 || retryAfter is not null)
            {
                RetryAfter = retryAfter,
            };
        }
    }

    private static JsonDocument ParseBody(byte[] body, int status)
    {
        try
        {
            return JsonDocument.Parse(body.Length == 0 ? "{}"u8.ToArray() : body, new JsonDocumentOptions { MaxDepth = 8 });
        }
        catch (JsonException ex)
        {
            throw new HubException($"The hub's certificate response ({status}) is not JSON.", status, isTransient: true, ex);
        }
    }

    private static async Task<CertificateSigningKey> NewKeyAsync(CertificateSigningKey current, CancellationToken cancellationToken) => current switch
    {
        SoftwareCertificateKey software => await software.CreateSuccessorAsync(cancellationToken).ConfigureAwait(false),
        TpmCertificateKey tpm => await tpm.CreateSuccessorAsync(cancellationToken).ConfigureAwait(false),
        _ => throw new HubException("This certificate key cannot make a successor.", 0, isTransient: false),
    };

    private void CompleteCredentialResponse(string topic, byte[] body)
    {
        // $iothub/credentials/res/{status}/?$rid={rid}
        var rest = topic.AsSpan(HubAuthentication.CredentialsResponsePrefix.Length);
        var slash = rest.IndexOf('/');
        if (slash <= 0 || !int.TryParse(rest[..slash], NumberStyles.None, CultureInfo.InvariantCulture, out var status)
            || !long.TryParse(HubTopics.QueryValue(topic, "$rid"), NumberStyles.None, CultureInfo.InvariantCulture, out var rid))
        {
            HubClientLog.Dropped(_logger, topic, "malformed credentials response topic");
            return;
        }

        if (_credentialRequests.TryGetValue(rid, out var pending))
        {
            pending.Writer.TryWrite((status, body));
        }
        else
        {
            HubClientLog.Dropped(_logger, topic, "no certificate request is waiting for it");
        }
    }
}

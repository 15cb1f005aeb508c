using System.Net;
using System.Text.Json;
using System.Text.Unicode;

using Provisioning.Device.Serialization;

namespace Provisioning.Device.Transport;

/// <summary>Reads DPS response bodies (dps-protocol.md §1.4–§1.7), turning every defect into a clear, non-transient error.</summary>
internal static class DpsResponseReader
{
    /// <summary>The largest response body accepted; anything bigger is malformed.</summary>
    public const int MaxBodyBytes = 96 * 1024;

    /// <summary>Turns a status and body into a reply, or throws the error they describe.</summary>
    /// <param name="status">The HTTP status, or the status of an MQTT response topic (§5).</param>
    /// <param name="body">The body.</param>
    /// <param name="retryAfter">The server's wait, if it sent one.</param>
    /// <param name="challengeAllowed">Whether a 401 may be a TPM challenge (an unauthenticated HTTPS request, §1.4).</param>
    /// <param name="operation">"the registration" or "the status poll", for messages.</param>
    public static DpsReply Interpret(HttpStatusCode status, ReadOnlySpan<byte> body, TimeSpan? retryAfter, bool challengeAllowed, string operation)
    {
        if (status is HttpStatusCode.OK or HttpStatusCode.Accepted)
        {
            return new DpsReply { Operation = ReadOperation(body, operation, status), RetryAfter = retryAfter };
        }

        if (status == HttpStatusCode.Unauthorized && challengeAllowed && ReadChallenge(body, operation) is { } key)
        {
            return new DpsReply { ChallengeKey = key, RetryAfter = retryAfter };
        }

        if ((int)status >= 400)
        {
            throw ReadError(body, operation, status, retryAfter);
        }

        throw new ProvisioningException(
            $"The provisioning service answered {operation} with the unexpected status {(int)status} ({status}).", isTransient: false, statusCode: status);
    }

    public static DpsOperation ReadOperation(ReadOnlySpan<byte> json, string operation, HttpStatusCode status)
    {
        DpsOperationStatusWire wire = Deserialize(json, DpsJsonContext.Default.DpsOperationStatusWire, operation, status);
        if (string.IsNullOrEmpty(wire.OperationId))
        {
            throw ProvisioningException.Malformed(operation, "operationId is missing", status);
        }

        ProvisioningRegistrationStatus parsed = ParseStatus(wire.Status, "status", operation, status);
        if (!DpsOperation.IsFinalStatus(parsed))
        {
            return new DpsOperation { OperationId = wire.OperationId, Status = parsed, RegistrationState = wire.RegistrationState };
        }

        DpsRegistrationStateWire state = wire.RegistrationState
            ?? throw ProvisioningException.Malformed(operation, $"registrationState is missing from a '{wire.Status}' result", status);
        if (parsed == ProvisioningRegistrationStatus.Assigned)
        {
            if (string.IsNullOrEmpty(state.AssignedHub))
            {
                throw ProvisioningException.Malformed(operation, "registrationState.assignedHub is missing from an assigned result", status);
            }

            // The hub becomes a TLS target host, a dialled endpoint and part of the MQTT username (§8): only a DNS name will do.
            if (IdentityRules.CheckHubHostName(state.AssignedHub) is { } hubProblem)
            {
                throw ProvisioningException.Invalid(operation, "registrationState.assignedHub", hubProblem, IdentityRules.HubRule, status);
            }

            if (string.IsNullOrEmpty(state.DeviceId))
            {
                throw ProvisioningException.Malformed(operation, "registrationState.deviceId is missing from an assigned result", status);
            }

            // The device id goes into the MQTT client id, username and topics, and into the cache: IoT Hub's rule, less wildcards.
            if (IdentityRules.CheckDeviceId(state.DeviceId) is { } idProblem)
            {
                throw ProvisioningException.Invalid(operation, "registrationState.deviceId", idProblem, IdentityRules.DeviceIdRule, status);
            }
        }

        return new DpsOperation
        {
            OperationId = wire.OperationId,
            Status = parsed,
            RegistrationState = state,
            Credentials = new AssignedCredentials
            {
                TpmAuthenticationKey = state.Tpm?.AuthenticationKey is { } key
                    ? DecodeBase64(key, "registrationState.tpm.authenticationKey", operation, status)
                    : null,
            },
        };
    }

    /// <summary>Reads a 401 body; returns the decoded activation blob when it is a TPM challenge, else <see langword="null"/>.</summary>
    public static byte[]? ReadChallenge(ReadOnlySpan<byte> json, string operation)
    {
        DpsErrorWire wire;
        if (!Utf8.IsValid(json))
        {
            return null;
        }

        try
        {
            wire = JsonSerializer.Deserialize(json, DpsJsonContext.Default.DpsErrorWire)!;
        }
        catch (JsonException)
        {
            return null;
        }

        if (wire?.AuthenticationKey is not { } key)
        {
            return null;
        }

        if (string.IsNullOrEmpty(wire.KeyName))
        {
            throw ProvisioningException.Malformed(operation, "the TPM challenge has no keyName", HttpStatusCode.Unauthorized);
        }

        return DecodeBase64(key, "authenticationKey", operation, HttpStatusCode.Unauthorized);
    }

    /// <summary>Turns an error answer into the exception, whatever its body holds.</summary>
    /// <remarks>Transience follows the status alone (§1.7), so a 503 with a proxy's HTML page is still retried.</remarks>
    public static ProvisioningException ReadError(ReadOnlySpan<byte> json, string operation, HttpStatusCode status, TimeSpan? retryAfter)
    {
        DpsErrorWire? wire = null;
        try
        {
            if (!json.IsEmpty)
            {
                wire = Utf8.IsValid(json)
                    ? JsonSerializer.Deserialize(json, DpsJsonContext.Default.DpsErrorWire)
                    : new DpsErrorWire { Message = "(the error body is not UTF-8 text)" };
            }
        }
        catch (JsonException)
        {
            // The status still says what happened; the unreadable body is only reported in the message.
            wire = new DpsErrorWire { Message = "(the error body is not the DPS error JSON)" };
        }

        int code = (int)status;
        string message = $"The provisioning service answered {operation} with {code} ({status})";
        if (!string.IsNullOrEmpty(wire?.Message))
        {
            message += ": " + wire.Message;
        }

        if (wire?.ErrorCode is { } errorCode)
        {
            message += $" [error code {errorCode}]";
        }

        if (!string.IsNullOrEmpty(wire?.TrackingId))
        {
            message += $" [tracking id {wire.TrackingId}]";
        }

        return new ProvisioningException(message + ".", IsTransientStatus(code), status, wire?.ErrorCode, wire?.TrackingId, retryAfter);
    }

    public static bool IsTransientStatus(int status) =>
        status is 408 or 429 || (status >= 500 && status != 501 && status != 505);

    public static DeviceRegistrationResult ToResult(DpsOperation operation, string registrationId)
    {
        DpsRegistrationStateWire state = operation.RegistrationState!;
        return new DeviceRegistrationResult
        {
            RegistrationId = string.IsNullOrEmpty(state.RegistrationId) ? registrationId : state.RegistrationId,
            Status = operation.Status,
            Substatus = ParseSubstatus(state.Substatus),
            AssignedHub = state.AssignedHub,
            DeviceId = state.DeviceId,
            CreatedDateTimeUtc = state.CreatedDateTimeUtc,
            LastUpdatedDateTimeUtc = state.LastUpdatedDateTimeUtc,
            GenerationId = state.GenerationId,
            ETag = state.Etag,
            ErrorCode = state.ErrorCode,
            ErrorMessage = state.ErrorMessage,
            JsonPayload = state.Payload is { ValueKind: not JsonValueKind.Null and not JsonValueKind.Undefined } payload ? payload.GetRawText() : null,
            EnrollmentGroupId = state.X509?.EnrollmentGroupId ?? state.SymmetricKey?.EnrollmentGroupId,
            CertificateInfo = ToInfo(state.X509?.CertificateInfo),
            SigningCertificateInfo = ToInfo(state.X509?.SigningCertificateInfo),
            IssuedCertificateChain = state.IssuedCertificateChain ?? [],
            OperationId = operation.OperationId,
        };
    }

    private static T Deserialize<T>(ReadOnlySpan<byte> json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string operation, HttpStatusCode status)
        where T : class
    {
        if (json.IsEmpty)
        {
            throw ProvisioningException.Malformed(operation, "the body is empty", status);
        }

        // JSON is UTF-8 (RFC 8259 §8.1). The reader checks only what it decodes: invalid bytes inside the payload (kept as a
        // JsonElement) would otherwise fail later, as an InvalidOperationException in the caller's hands.
        if (!Utf8.IsValid(json))
        {
            throw ProvisioningException.Malformed(operation, "the body is not UTF-8 text", status);
        }

        try
        {
            return JsonSerializer.Deserialize(json, type)
                ?? throw ProvisioningException.Malformed(operation, "the body is JSON null", status);
        }
        catch (JsonException ex)
        {
            // The path and position say what was wrong without echoing any value.
            throw new ProvisioningException(
                $"The provisioning service sent a malformed response to {operation}: the body is not valid JSON of the expected shape " +
                $"(at {ex.Path ?? "$"}, line {ex.LineNumber}, byte {ex.BytePositionInLine}).",
                isTransient: false,
                statusCode: status,
                innerException: ex);
        }
    }

    // Case-insensitive without an upper-cased copy per answer (OrdinalIgnoreCase folds as ToUpperInvariant does).
    private static ProvisioningRegistrationStatus ParseStatus(string? value, string field, string operation, HttpStatusCode status) =>
        value is null ? throw ProvisioningException.Malformed(operation, $"{field} is missing", status)
        : Is(value, "assigning") ? ProvisioningRegistrationStatus.Assigning
        : Is(value, "assigned") ? ProvisioningRegistrationStatus.Assigned
        : Is(value, "unassigned") ? ProvisioningRegistrationStatus.Unassigned
        : Is(value, "failed") ? ProvisioningRegistrationStatus.Failed
        : Is(value, "disabled") || Is(value, "blacklisted") ? ProvisioningRegistrationStatus.Disabled
        : throw ProvisioningException.Malformed(operation, $"{field} '{Truncate(value)}' is not a known registration status", status);

    private static bool Is(string value, string expected) => string.Equals(value, expected, StringComparison.OrdinalIgnoreCase);

    private static ProvisioningRegistrationSubstatus ParseSubstatus(string? value) =>
        value?.ToUpperInvariant() switch
        {
            "INITIALASSIGNMENT" => ProvisioningRegistrationSubstatus.InitialAssignment,
            "DEVICEDATAMIGRATED" => ProvisioningRegistrationSubstatus.DeviceDataMigrated,
            "DEVICEDATARESET" => ProvisioningRegistrationSubstatus.DeviceDataReset,
            "REPROVISIONEDTOINITIALASSIGNMENT" => ProvisioningRegistrationSubstatus.ReprovisionedToInitialAssignment,
            _ => ProvisioningRegistrationSubstatus.Unknown,
        };

    private static byte[] DecodeBase64(string value, string field, string operation, HttpStatusCode status) =>
        Base64Secret.TryDecode(value) ?? throw ProvisioningException.Malformed(operation, $"{field} is not valid base64", status);

    private static X509CertificateInfo? ToInfo(DpsCertificateInfoWire? wire) => wire is null ? null : new X509CertificateInfo
    {
        SubjectName = wire.SubjectName,
        Sha1Thumbprint = wire.Sha1Thumbprint,
        Sha256Thumbprint = wire.Sha256Thumbprint,
        IssuerName = wire.IssuerName,
        NotBeforeUtc = wire.NotBeforeUtc,
        NotAfterUtc = wire.NotAfterUtc,
        SerialNumber = wire.SerialNumber,
        Version = wire.Version,
    };

    private static string Truncate(string value) => value.Length <= 40 ? value : value[..40] + "…";
}

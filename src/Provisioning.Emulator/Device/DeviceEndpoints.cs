using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

using Provisioning.Emulator.Faults;
using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;
using Provisioning.Emulator.Storage;
using Provisioning.Emulator.Tpm;

namespace Provisioning.Emulator.Device;

/// <summary>The device API over HTTPS: register, operation status, status lookup (dps-protocol.md §1).</summary>
internal sealed class DeviceEndpoints(
    EmulatorStore store,
    DpsEmulatorOptions options,
    string idScope,
    DeviceAuthenticator authenticator,
    RegistrationProcessor processor,
    OperationStore operations,
    RegistrationThrottle? throttle)
{
    private const string RegionHeader = DpsEmulator.DeviceRegionHeader;

    private static EmulatorJsonContext Ctx => EmulatorJsonContext.Default;

    private TimeProvider Time => options.TimeProvider;

    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapMethods("/{idScope}/registrations/{registrationId}/register", ["PUT"], RegisterAsync);
        routes.MapMethods("/{idScope}/registrations/{registrationId}/operations/{operationId}", ["GET"], OperationStatusAsync);
        routes.MapMethods("/{idScope}/registrations/{registrationId}", ["POST"], StatusLookupAsync);
    }

    private async Task RegisterAsync(HttpContext context)
    {
        if (await CheckRequestAsync(context).ConfigureAwait(false) is not { } registrationId)
        {
            return;
        }

        var body = await RequestBody.ReadAsync(context.Request, Ctx.DeviceRegistrationRequest, context.RequestAborted).ConfigureAwait(false);
        if (body.ErrorCode != 0)
        {
            await Error(context, body.ErrorCode, body.Message!).ConfigureAwait(false);
            return;
        }

        if (body.Value?.RegistrationId is { } inBody && !string.Equals(inBody, registrationId, StringComparison.OrdinalIgnoreCase))
        {
            await Error(context, DpsErrorCodes.RegistrationIdMismatch, "The registration id in the body does not match the URL.").ConfigureAwait(false);
            return;
        }

        if (throttle?.TryTake() is { } wait)
        {
            await DpsErrorWriter.WriteErrorAsync(context, DpsErrorCodes.Throttled, "Too many registrations for this unit; retry later.", Time, wait).ConfigureAwait(false);
            return;
        }

        var outcome = authenticator.Authenticate(context, registrationId, body.Value, mayChallenge: true);
        if (!await HandleAuthFailureAsync(context, outcome).ConfigureAwait(false))
        {
            return;
        }

        CertificateRequest? csr = null;
        if (body.Value?.Csr is { } csrText && ApiVersions.Match(context.Request, [ApiVersions.Preview]) is not null
            && !TryReadCsr(csrText, registrationId, out csr, out var csrProblem))
        {
            await Error(context, DpsErrorCodes.MalformedRequest, csrProblem).ConfigureAwait(false);
            return;
        }

        using var identity = outcome.Identity!;
        var operationId = OperationStore.NewId();
        using var activity = EmulatorLog.ActivitySource.StartActivity("dps.register");
        activity?.SetTag("dps.registration_id", registrationId);
        activity?.SetTag("dps.attestation", identity.AttestationType);
        RegistrationRecord record;
        try
        {
            var region = context.Request.Headers[RegionHeader].ToString();
            record = await processor.RegisterAsync(identity, body.Value?.Payload, region.Length > 0 ? region : null, csr, operationId, context.RequestAborted).ConfigureAwait(false);
        }
        catch (TpmAttestationRejectedException ex)
        {
            await Error(context, DpsErrorCodes.TpmKeyRejected, ex.Message).ConfigureAwait(false);
            return;
        }

        activity?.SetTag("dps.status", record.Status);
        activity?.SetTag("dps.assigned_hub", record.AssignedHub);
        operations.Add(operationId, registrationId, FinalBody(operationId, record));
        context.Response.StatusCode = StatusCodes.Status202Accepted;
        context.Response.Headers.RetryAfter = ((int)Math.Ceiling(options.RetryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        await DpsErrorWriter.WriteJsonAsync(context, new RegistrationOperationStatus { OperationId = operationId, Status = "assigning" }, Ctx.RegistrationOperationStatus).ConfigureAwait(false);
    }

    private async Task OperationStatusAsync(HttpContext context)
    {
        if (await CheckRequestAsync(context).ConfigureAwait(false) is not { } registrationId)
        {
            return;
        }

        var outcome = authenticator.Authenticate(context, registrationId, null, mayChallenge: false);
        if (!await HandleAuthFailureAsync(context, outcome).ConfigureAwait(false))
        {
            return;
        }

        outcome.Identity!.Dispose();

        var operationId = (string)context.GetRouteValue("operationId")!;
        var final = operations.Find(operationId, registrationId);
        if (final is null && store.Registrations.TryGetValue(registrationId, out var record) && record.LastOperationId == operationId)
        {
            final = FinalBody(operationId, record);
        }

        if (final is null)
        {
            await Error(context, DpsErrorCodes.OperationNotFound, "The operation id is unknown for this registration.").ConfigureAwait(false);
            return;
        }

        context.Response.StatusCode = StatusCodes.Status200OK;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.Body.WriteAsync(final, context.RequestAborted).ConfigureAwait(false);
    }

    private async Task StatusLookupAsync(HttpContext context)
    {
        if (await CheckRequestAsync(context).ConfigureAwait(false) is not { } registrationId)
        {
            return;
        }

        var body = await RequestBody.ReadAsync(context.Request, Ctx.DeviceRegistrationRequest, context.RequestAborted).ConfigureAwait(false);
        if (body.ErrorCode != 0)
        {
            await Error(context, body.ErrorCode, body.Message!).ConfigureAwait(false);
            return;
        }

        if (body.Value?.Csr is not null)
        {
            await Error(context, DpsErrorCodes.MalformedRequest, "A status lookup cannot carry a csr.").ConfigureAwait(false);
            return;
        }

        var outcome = authenticator.Authenticate(context, registrationId, body.Value, mayChallenge: true);
        if (!await HandleAuthFailureAsync(context, outcome).ConfigureAwait(false))
        {
            return;
        }

        outcome.Identity!.Dispose();
        if (!store.Registrations.TryGetValue(registrationId, out var record))
        {
            await Error(context, DpsErrorCodes.NotFound, "The device has not registered.").ConfigureAwait(false);
            return;
        }

        // The status lookup never repeats an issued chain (2025-07-01-preview swagger).
        var result = ToDeviceResult(record);
        result.IssuedCertificateChain = null;
        await DpsErrorWriter.WriteJsonAsync(context, result, Ctx.DeviceRegistrationResult).ConfigureAwait(false);
    }

    /// <summary>Checks api-version and ID scope; returns the registration id, or null after writing the error.</summary>
    private async Task<string?> CheckRequestAsync(HttpContext context)
    {
        if (ApiVersions.Match(context.Request, ApiVersions.Device) is null)
        {
            await Error(context, DpsErrorCodes.InvalidApiVersion, "The api-version is missing or not supported (2019-03-31, 2021-06-01, 2025-07-01-preview).").ConfigureAwait(false);
            return null;
        }

        if (!string.Equals((string?)context.GetRouteValue("idScope"), idScope, StringComparison.OrdinalIgnoreCase))
        {
            await Error(context, DpsErrorCodes.NotFound, "The ID scope is unknown.").ConfigureAwait(false);
            return null;
        }

        var registrationId = (string)context.GetRouteValue("registrationId")!;
        if (!IsValidRegistrationId(registrationId))
        {
            await Error(context, DpsErrorCodes.RegistrationIdMismatch, "A registration id is 1–128 characters: letters, digits, '-', '.', '_', ':'.").ConfigureAwait(false);
            return null;
        }

        return registrationId;
    }

    private async Task<bool> HandleAuthFailureAsync(HttpContext context, AuthOutcome outcome)
    {
        if (outcome.Challenge is { } challenge)
        {
            context.Response.StatusCode = StatusCodes.Status401Unauthorized;
            await DpsErrorWriter.WriteJsonAsync(context, challenge, Ctx.TpmChallengeBody).ConfigureAwait(false);
            return false;
        }

        if (outcome.Identity is null)
        {
            await Error(context, outcome.ErrorCode, outcome.Message!).ConfigureAwait(false);
            return false;
        }

        return true;
    }

    /// <summary>Reads a base64 DER PKCS#10 request whose signature verifies and whose CN is the registration id.</summary>
    private static bool TryReadCsr(string base64, string registrationId, out CertificateRequest? request, out string problem)
    {
        request = null;
        problem = "";
        try
        {
            request = CertificateRequest.LoadSigningRequest(Convert.FromBase64String(base64), HashAlgorithmName.SHA256);
        }
        catch (Exception ex) when (ex is FormatException or CryptographicException)
        {
            problem = "The csr is not a base64 DER PKCS#10 request with a valid signature.";
            return false;
        }

        var commonName = request.SubjectName.EnumerateRelativeDistinguishedNames()
            .Where(rdn => rdn.GetSingleElementType().Value == "2.5.4.3").Select(rdn => rdn.GetSingleElementValue()).FirstOrDefault();
        if (!string.Equals(commonName, registrationId, StringComparison.OrdinalIgnoreCase))
        {
            problem = "The csr's common name must be the registration id.";
            request = null;
            return false;
        }

        return true;
    }

    private Task Error(HttpContext context, int code, string message) => DpsErrorWriter.WriteErrorAsync(context, code, message, Time);

    private static bool IsValidRegistrationId(string id) =>
        id.Length is > 0 and <= 128 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or ':');

    internal static byte[] FinalBody(string operationId, RegistrationRecord record) =>
        JsonSerializer.SerializeToUtf8Bytes(
            new RegistrationOperationStatus { OperationId = operationId, Status = record.Status, RegistrationState = ToDeviceResult(record) },
            Ctx.RegistrationOperationStatus);

    internal static DeviceRegistrationResult ToDeviceResult(RegistrationRecord record) => new()
    {
        RegistrationId = record.RegistrationId,
        CreatedDateTimeUtc = record.CreatedDateTimeUtc,
        AssignedHub = record.AssignedHub,
        DeviceId = record.DeviceId,
        Status = record.Status,
        Substatus = record.Status == "assigned" ? record.Substatus : null,
        ErrorCode = record.ErrorCode,
        ErrorMessage = record.ErrorMessage,
        LastUpdatedDateTimeUtc = record.LastUpdatedDateTimeUtc,
        Etag = record.Etag,
        GenerationId = record.GenerationId,
        Payload = record.Payload,
        Tpm = record.AttestationType == "tpm" && record.TpmAuthenticationKey is { } blob ? new TpmRegistrationResult { AuthenticationKey = blob } : null,
        X509 = record.AttestationType == "x509"
            ? new X509RegistrationResult { CertificateInfo = record.CertificateInfo, EnrollmentGroupId = record.EnrollmentGroupId, SigningCertificateInfo = record.SigningCertificateInfo }
            : null,
        SymmetricKey = record.AttestationType == "symmetricKey" && record.EnrollmentGroupId is { } g ? new SymmetricKeyRegistrationResult { EnrollmentGroupId = g } : null,
        IssuedCertificateChain = record.IssuedCertificateChain,
    };
}

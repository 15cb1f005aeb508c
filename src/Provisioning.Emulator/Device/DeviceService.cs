using System.Security.Cryptography.X509Certificates;

using Provisioning.Emulator.Faults;
using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;
using Provisioning.Emulator.Storage;
using Provisioning.Emulator.Tpm;

namespace Provisioning.Emulator.Device;

/// <summary>
/// The device API with no transport: register, operation status and status lookup, with the same checks, throttling,
/// authentication, allocation and error bodies whether the request came over HTTPS or MQTT.
/// </summary>
/// <remarks>dps-protocol.md §1 (HTTPS), §5 (MQTT carries the same bodies), §11.</remarks>
internal sealed class DeviceService(
    EmulatorStore store,
    DpsEmulatorOptions options,
    string idScope,
    DeviceAuthenticator authenticator,
    RegistrationProcessor processor,
    OperationStore operations,
    RegistrationThrottle? throttle,
    FaultInjector faults)
{
    private static EmulatorJsonContext Ctx => EmulatorJsonContext.Default;

    /// <summary>The ID scope devices must address.</summary>
    public string IdScope => idScope;

    /// <summary>The authenticator (MQTT also uses it at CONNECT).</summary>
    public DeviceAuthenticator Authenticator => authenticator;

    /// <summary>The active fault rules.</summary>
    public FaultInjector Faults => faults;

    /// <summary>How long a client has to complete its TLS handshake (the MQTT endpoint uses it too).</summary>
    public TimeSpan TlsHandshakeTimeout => options.TlsHandshakeTimeout;

    /// <summary>The clock.</summary>
    public TimeProvider Time => options.TimeProvider;

    /// <summary>
    /// PUT register: 202 <c>assigning</c> with the configured retry-after, or a DPS error. The operation stays
    /// <c>assigning</c> for <see cref="DpsEmulatorOptions.AssignmentDelay"/> plus <paramref name="slowAssignment"/> (a
    /// <see cref="Faults.FaultKind.SlowAssignment"/> fault).
    /// </summary>
    public async Task<DeviceResponse> RegisterAsync(DeviceRequest request, RequestBody.Parsed<DeviceRegistrationRequest> body, CancellationToken cancellationToken,
        TimeSpan slowAssignment = default)
    {
        if (Check(request) is { } refused)
        {
            return refused;
        }

        if (body.ErrorCode != 0)
        {
            return Error(body.ErrorCode, body.Message!);
        }

        var registrationId = request.RegistrationId;
        if (body.Value?.RegistrationId is { } inBody && !string.Equals(inBody, registrationId, StringComparison.OrdinalIgnoreCase))
        {
            return Error(DpsErrorCodes.RegistrationIdMismatch, "The registration id in the body does not match the URL.");
        }

        if (throttle?.TryTake() is { } wait)
        {
            return DeviceResponse.Error(DpsErrorCodes.Throttled, "Too many registrations for this unit; retry later.", Time, wait);
        }

        var outcome = authenticator.Authenticate(request, body.Value, mayChallenge: true);
        if (AuthFailure(outcome) is { } failure)
        {
            return failure;
        }

        CertificateRequest? csr = null;
        if (body.Value?.Csr is { } csrText && request.ApiVersion == ApiVersions.Preview
            && !CsrReader.TryRead(csrText, registrationId, out csr, out var csrCode, out var csrProblem))
        {
            outcome.Identity!.Dispose();
            return Error(csrCode, csrProblem);
        }

        using var identity = outcome.Identity!;
        var operationId = OperationStore.NewId();
        using var activity = EmulatorLog.ActivitySource.StartActivity("dps.register");
        activity?.SetTag("dps.registration_id", registrationId);
        activity?.SetTag("dps.attestation", identity.AttestationType);
        RegistrationRecord record;
        try
        {
            record = await processor.RegisterAsync(identity, body.Value?.Payload, request.Region, csr, operationId, cancellationToken).ConfigureAwait(false);
        }
        catch (TpmAttestationRejectedException ex)
        {
            return Error(DpsErrorCodes.TpmKeyRejected, ex.Message);
        }

        EmulatorMetrics.Registered(record.Status, identity.AttestationType);
        activity?.SetTag("dps.status", record.Status);
        activity?.SetTag("dps.assigned_hub", record.AssignedHub);
        operations.Add(operationId, registrationId, RegistrationResults.FinalBody(operationId, record), Time.GetUtcNow() + options.AssignmentDelay + slowAssignment);
        return DeviceResponse.Json(202, new RegistrationOperationStatus { OperationId = operationId, Status = "assigning" }, Ctx.RegistrationOperationStatus, options.RetryAfter);
    }

    /// <summary>GET operation status: 200 with the final <c>RegistrationOperationStatus</c>, or a DPS error.</summary>
    public Task<DeviceResponse> OperationStatusAsync(DeviceRequest request, string operationId)
    {
        if (Check(request) is { } refused)
        {
            return Task.FromResult(refused);
        }

        var registrationId = request.RegistrationId;
        var outcome = authenticator.Authenticate(request, null, mayChallenge: false);
        if (AuthFailure(outcome) is { } failure)
        {
            return Task.FromResult(failure);
        }

        outcome.Identity!.Dispose();
        var final = operations.Find(operationId, registrationId, out var readyAt);
        if (final is not null && Time.GetUtcNow() < readyAt)
        {
            // Still assigning (AssignmentDelay, or a SlowAssignment fault): the device polls again after Retry-After. A poll's
            // body carries registrationState {registrationId, status} then, as the service's does (dps-protocol.md §1.4).
            var assigning = new DeviceRegistrationResult
            {
                RegistrationId = store.Registrations.TryGetValue(registrationId, out var current) ? current.RegistrationId : registrationId,
                Status = "assigning",
            };
            return Task.FromResult(DeviceResponse.Json(202, new RegistrationOperationStatus { OperationId = operationId, Status = "assigning", RegistrationState = assigning },
                Ctx.RegistrationOperationStatus, options.RetryAfter));
        }

        if (final is null && store.Registrations.TryGetValue(registrationId, out var record) && record.LastOperationId == operationId)
        {
            final = RegistrationResults.FinalBody(operationId, record);
        }

        return Task.FromResult(final is null
            ? Error(DpsErrorCodes.OperationNotFound, "The operation id is unknown for this registration.")
            : new DeviceResponse(200, final));
    }

    /// <summary>POST status lookup (HTTPS only): 200 with the <c>DeviceRegistrationResult</c>, or a DPS error.</summary>
    public Task<DeviceResponse> StatusLookupAsync(DeviceRequest request, RequestBody.Parsed<DeviceRegistrationRequest> body)
    {
        if (Check(request) is { } refused)
        {
            return Task.FromResult(refused);
        }

        if (body.ErrorCode != 0)
        {
            return Task.FromResult(Error(body.ErrorCode, body.Message!));
        }

        if (body.Value?.Csr is not null)
        {
            return Task.FromResult(Error(DpsErrorCodes.MalformedRequest, "A status lookup cannot carry a csr."));
        }

        var outcome = authenticator.Authenticate(request, body.Value, mayChallenge: true);
        if (AuthFailure(outcome) is { } failure)
        {
            return Task.FromResult(failure);
        }

        outcome.Identity!.Dispose();
        if (!store.Registrations.TryGetValue(request.RegistrationId, out var record))
        {
            return Task.FromResult(Error(DpsErrorCodes.NotFound, "The device has not registered."));
        }

        // The status lookup never repeats an issued chain (2025-07-01-preview swagger); while the last operation is still
        // assigning it says so, without the hub the assignment has not given yet.
        var result = operations.IsAssigning(record) ? RegistrationResults.AssigningDeviceResult(record) : RegistrationResults.ToDeviceResult(record);
        result.IssuedCertificateChain = null;
        return Task.FromResult(DeviceResponse.Json(200, result, Ctx.DeviceRegistrationResult));
    }

    /// <summary>Whether <paramref name="id"/> is a valid registration id (<see cref="RegistrationIds.Rule"/>).</summary>
    public static bool IsValidRegistrationId(string id) => RegistrationIds.IsValid(id);

    /// <summary>Checks api-version, ID scope and registration id; null when they are acceptable.</summary>
    public DeviceResponse? Check(DeviceRequest request)
    {
        if (ApiVersions.Match(request.ApiVersion, ApiVersions.Device) is null)
        {
            return Error(DpsErrorCodes.InvalidApiVersion, "The api-version is missing or not supported (2019-03-31, 2021-06-01, 2025-07-01-preview).");
        }

        if (!string.Equals(request.IdScope, idScope, StringComparison.OrdinalIgnoreCase))
        {
            return Error(DpsErrorCodes.NotFound, "The ID scope is unknown.");
        }

        return IsValidRegistrationId(request.RegistrationId)
            ? null
            : Error(DpsErrorCodes.RegistrationIdMismatch, $"A registration id is {RegistrationIds.Rule}.");
    }

    private DeviceResponse? AuthFailure(AuthOutcome outcome) =>
        outcome.Challenge is { } challenge ? DeviceResponse.Json(401, challenge, Ctx.TpmChallengeBody)
        : outcome.Identity is null ? Error(outcome.ErrorCode, outcome.Message!)
        : null;

    private DeviceResponse Error(int code, string message) => DeviceResponse.Error(code, message, Time);
}

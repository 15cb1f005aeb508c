using System.Text;

using Microsoft.Azure.Amqp;
using Microsoft.Azure.Amqp.Framing;

using Provisioning.Emulator.Device;
using Provisioning.Emulator.Faults;
using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Amqp;

/// <summary>Serving one request message: fault injection, the device service, and the answer or the rejection.</summary>
internal sealed partial class DpsAmqpEndpoint
{
    public const string OperationTypeProperty = "iotdps-operation-type";
    public const string OperationIdProperty = "iotdps-operation-id";
    public const string RegisterOperation = "iotdps-register";
    public const string StatusOperation = "iotdps-get-operationstatus";

    private static readonly TimeSpan AnswerTimeout = TimeSpan.FromSeconds(30);

    private void Serve(DpsAmqpConnectionState state, AmqpConnection connection, ReceivingAmqpLink receiver, AmqpMessage message)
    {
        lock (_gate)
        {
            if (_stopping.IsCancellationRequested)
            {
                message.Dispose();
                return;
            }

            var task = ServeAsync(state, connection, receiver, message, _stopping.Token);
            _inFlight.Add(task);
            _ = task.ContinueWith(done => { lock (_gate) { _inFlight.Remove(done); } }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    private async Task ServeAsync(DpsAmqpConnectionState state, AmqpConnection connection, ReceivingAmqpLink receiver, AmqpMessage message, CancellationToken cancellationToken)
    {
        // Off the library's I/O callback.
        await Task.Yield();
        var registrationId = state.RegistrationId ?? "";
        var operation = ReadProperty(message.ApplicationProperties?.Map, OperationTypeProperty);
        try
        {
            DeviceResponse answer;
            var endpoint = operation switch
            {
                RegisterOperation => DpsEndpoint.Register,
                StatusOperation => DpsEndpoint.OperationStatus,
                _ => DpsEndpoint.None,
            };
            if (endpoint == DpsEndpoint.None)
            {
                answer = DeviceResponse.Error(DpsErrorCodes.MalformedRequest, $"The application property {OperationTypeProperty} is missing or not {RegisterOperation} or {StatusOperation}.", _service.Time);
            }
            else
            {
                var rule = _service.Faults.Next(endpoint, DpsTransport.Amqp);
                switch (rule?.Kind)
                {
                    case FaultKind.DropConnection:
                        connection.Abort();
                        return;
                    case FaultKind.Delay:
                        await Task.Delay(rule.Delay, _service.Time, cancellationToken).ConfigureAwait(false);
                        break;
                }

                answer = (rule is null ? null : FaultAnswers.For(rule, _service.Time))
                    ?? await AnswerAsync(state, endpoint, message, cancellationToken).ConfigureAwait(false);
            }

            if (answer.StatusCode >= 400)
            {
                receiver.DisposeMessage(message, Reject(answer), settled: true, batchable: false);
                return;
            }

            receiver.AcceptMessage(message, false);
            if (state.Sender is not { } sender)
            {
                AmqpLog.AnswerFailed(_logger, registrationId, "the device attached no receiving link");
                return;
            }

            using var response = AmqpMessage.Create(new Data { Value = new ArraySegment<byte>(answer.Body) });
            response.Properties.CorrelationId = message.Properties?.CorrelationId;
            if (answer.RetryAfter is { } retryAfter)
            {
                // The C# SDK reads "Retry-After", the C SDK "retry-after" (dps-protocol.md §6).
                response.ApplicationProperties.Map["Retry-After"] = DeviceResponse.Seconds(retryAfter);
                response.ApplicationProperties.Map["retry-after"] = DeviceResponse.Seconds(retryAfter);
            }

            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(AnswerTimeout);
            await sender.SendMessageAsync(response, new ArraySegment<byte>(Guid.NewGuid().ToByteArray()), AmqpConstants.NullBinary, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or AmqpException or ObjectDisposedException or InvalidOperationException or TimeoutException)
        {
            // The device went away or the emulator is stopping; the device sees its connection end.
            AmqpLog.AnswerFailed(_logger, registrationId, ex.Message);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            AmqpLog.Unhandled(_logger, ex, operation ?? "(none)", registrationId);
            TryReject(receiver, message, DeviceResponse.Error(DpsErrorCodes.InternalError, "An internal error occurred.", _service.Time));
        }
        finally
        {
            message.Dispose();
        }
    }

    /// <summary>
    /// The register body is the HTTPS body (C), <c>{"payload":…}</c> or empty (CS); the status body is ignored (CS sends an
    /// AmqpValue, C the register JSON). A TPM connection's EK and SRK came in SASL and are added as the HTTPS body has them.
    /// </summary>
    private Task<DeviceResponse> AnswerAsync(DpsAmqpConnectionState state, DpsEndpoint endpoint, AmqpMessage message, CancellationToken cancellationToken)
    {
        var request = state.ToDeviceRequest();
        if (endpoint == DpsEndpoint.OperationStatus)
        {
            return ReadProperty(message.ApplicationProperties?.Map, OperationIdProperty) is { Length: > 0 } operationId
                ? _service.OperationStatusAsync(request, operationId)
                : Task.FromResult(DeviceResponse.Error(DpsErrorCodes.MalformedRequest, $"The status request has no {OperationIdProperty}.", _service.Time));
        }

        var body = RequestBody.Parse(ReadBody(message), EmulatorJsonContext.Default.DeviceRegistrationRequest);
        if (body.ErrorCode == 0 && state.Principal is { EndorsementKey: { } ek, StorageRootKey: { } srk })
        {
            var value = body.Value ?? new DeviceRegistrationRequest();
            value.Tpm ??= DpsAmqpSasl.TpmBody(ek, srk).Tpm;
            body = body with { Value = value };
        }

        return AnswerRegisterAsync(request, body, cancellationToken);
    }

    private async Task<DeviceResponse> AnswerRegisterAsync(DeviceRequest request, RequestBody.Parsed<DeviceRegistrationRequest> body, CancellationToken cancellationToken)
    {
        var answer = await _service.RegisterAsync(request, body, cancellationToken).ConfigureAwait(false);

        // A TPM device that skipped the SASL TPM exchange would get the HTTPS 401 challenge, which AMQP cannot carry.
        return answer is { StatusCode: 401, ErrorCode: 0 }
            ? DeviceResponse.Error(DpsErrorCodes.Unauthorized, "TPM attestation over AMQP authenticates in SASL (mechanism TPM).", _service.Time)
            : answer;
    }

    /// <summary>The message's data sections as one body (bounded by the link's maximum message size).</summary>
    private static byte[] ReadBody(AmqpMessage message)
    {
        if (message.DataBody is not { } sections)
        {
            return [];
        }

        using var body = new MemoryStream();
        foreach (var data in sections)
        {
            if (data.Value is ArraySegment<byte> segment)
            {
                body.Write(segment);
            }
        }

        return body.ToArray();
    }

    /// <summary>A rejected delivery: the DPS error JSON in <c>error.description</c>, the wait in <c>error.info["Retry-After"]</c>.</summary>
    private static Rejected Reject(DeviceResponse answer)
    {
        var error = new Error
        {
            Condition = answer.StatusCode switch
            {
                401 or 403 => AmqpErrorCode.UnauthorizedAccess,
                404 => AmqpErrorCode.NotFound,
                429 => AmqpErrorCode.ResourceLimitExceeded,
                >= 500 => AmqpErrorCode.InternalError,
                _ => AmqpErrorCode.InvalidField,
            },
            Description = Encoding.UTF8.GetString(answer.Body),
        };
        if (answer.RetryAfter is { } retryAfter)
        {
            error.Info = new Fields { { "Retry-After", DeviceResponse.Seconds(retryAfter) } };
        }

        return new Rejected { Error = error };
    }

    private void TryReject(ReceivingAmqpLink receiver, AmqpMessage message, DeviceResponse answer)
    {
        try
        {
            receiver.DisposeMessage(message, Reject(answer), settled: true, batchable: false);
        }
        catch (Exception ex) when (ex is AmqpException or ObjectDisposedException or InvalidOperationException)
        {
            AmqpLog.AnswerFailed(_logger, "(unknown)", ex.Message);
        }
    }
}

using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

using Provisioning.Emulator.Device;
using Provisioning.Emulator.Faults;
using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Mqtt;

/// <summary>Serving one request: fault injection, the device service, and the answer on the response topic.</summary>
internal sealed partial class DpsMqttEndpoint
{
    private async Task ServeAsync(string clientId, DpsMqttSession session, DpsMqttPendingRequest request, CancellationToken cancellationToken)
    {
        // Off the packet loops: the interceptor that called us returns first.
        await Task.Yield();
        DeviceResponse answer;
        try
        {
            var rule = _service.Faults.Next(request.Topic.Operation == DpsMqttOperation.Register ? DpsEndpoint.Register : DpsEndpoint.OperationStatus, DpsTransport.Mqtt);
            switch (rule?.Kind)
            {
                case FaultKind.DropConnection:
                    await _server.DisconnectClientAsync(clientId, new MqttServerClientDisconnectOptions { ReasonCode = MqttDisconnectReasonCode.UnspecifiedError }).ConfigureAwait(false);
                    return;
                case FaultKind.Delay:
                    await Task.Delay(rule.Delay, _service.Time, cancellationToken).ConfigureAwait(false);
                    break;
            }

            var slow = rule is { Kind: FaultKind.SlowAssignment } ? rule.Delay : TimeSpan.Zero;
            answer = (rule is null ? null : FaultAnswers.For(rule, _service.Time)) ?? await AnswerAsync(session, request, slow, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return;
        }
        catch (Exception ex)
        {
            MqttLog.Unhandled(_logger, ex, request.Topic.Operation, clientId);
            answer = DeviceResponse.Error(DpsErrorCodes.InternalError, "An internal error occurred.", _service.Time);
        }

        var message = new MqttApplicationMessageBuilder()
            .WithTopic(DpsMqttTopics.Response(answer.StatusCode, request.Topic.RequestId, answer.RetryAfter))
            .WithPayload(answer.Body)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        try
        {
            await _server.InjectApplicationMessage(new InjectedMqttApplicationMessage(message) { SenderClientId = SenderPrefix + clientId }, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or OperationCanceledException or ObjectDisposedException)
        {
            // The server is stopping; the device sees its connection close.
            MqttLog.AnswerFailed(_logger, ex, clientId);
        }
    }

    /// <summary>
    /// The register body is empty (CS), <c>{"payload":…}</c> (CS) or <c>{"registrationId":…,"payload":…}</c> (C, AC): all
    /// read as the HTTPS body, with the registration id from CONNECT (dps-protocol.md §5).
    /// </summary>
    private Task<DeviceResponse> AnswerAsync(DpsMqttSession session, DpsMqttPendingRequest request, TimeSpan slowAssignment, CancellationToken cancellationToken)
    {
        var deviceRequest = session.ToDeviceRequest();
        if (request.Topic.Operation == DpsMqttOperation.Register)
        {
            var body = RequestBody.Parse(request.Payload, EmulatorJsonContext.Default.DeviceRegistrationRequest);
            return _service.RegisterAsync(deviceRequest, body, cancellationToken, slowAssignment);
        }

        return request.Topic.OperationId is { } operationId
            ? _service.OperationStatusAsync(deviceRequest, operationId)
            : Task.FromResult(DeviceResponse.Error(DpsErrorCodes.MalformedRequest, "The status request topic has no operationId.", _service.Time));
    }
}

using System.Collections.Concurrent;
using System.Text;
using MQTTnet;
using Provisioning.Device.Hub.Mqtt;

namespace Provisioning.Device.Hub;

/// <summary>Direct methods: a handler per name or a default one; unknown methods answer 501, a failing handler 500, and a request
/// that finds <see cref="DeviceClientOptions.ReceiveQueueCapacity"/> requests waiting 503.</summary>
public sealed partial class DeviceClient
{
    private readonly ConcurrentDictionary<string, Func<MethodRequest, CancellationToken, ValueTask<MethodResponse>>> _methodHandlers = new(StringComparer.Ordinal);
    private readonly System.Threading.Channels.Channel<(MethodRequest Request, string Rid)> _methodRequests;
    private readonly System.Threading.Channels.Channel<string> _methodRejections;
    private Func<MethodRequest, CancellationToken, ValueTask<MethodResponse>>? _defaultMethodHandler;

    private static MethodResponse Busy => new(503, "{\"message\":\"The device is busy: too many method requests are waiting.\"}"u8.ToArray());

    private static MethodResponse HandlerFailed => new(500, "{\"message\":\"The method handler failed.\"}"u8.ToArray());

    /// <summary>Sets (or with null removes) the handler of one method.</summary>
    public void SetMethodHandler(string methodName, Func<MethodRequest, CancellationToken, ValueTask<MethodResponse>>? handler)
    {
        ArgumentException.ThrowIfNullOrEmpty(methodName);
        if (handler is null)
        {
            _methodHandlers.TryRemove(methodName, out _);
        }
        else
        {
            _methodHandlers[methodName] = handler;
        }
    }

    /// <summary>Sets the handler of methods that have no handler of their own.</summary>
    public void SetDefaultMethodHandler(Func<MethodRequest, CancellationToken, ValueTask<MethodResponse>>? handler) => _defaultMethodHandler = handler;

    private void QueueMethodRequest(string topic, byte[] payload)
    {
        if (HubTopics.ParseMethodRequest(topic) is not var (name, rid))
        {
            HubClientLog.Dropped(_logger, topic, "malformed method request topic");
            return;
        }

        if (!_methodRequests.Writer.TryWrite((new MethodRequest(name, payload), rid)))
        {
            // Too many requests wait for the handlers: answer "busy" now rather than let the caller time out. (When even the
            // busy answers queue up, the caller does time out.)
            HubClientLog.Dropped(_logger, topic, "the method queue is full; answering 503");
            _methodRejections.Writer.TryWrite(rid);
        }
    }

    /// <summary>Sends the 503 answers of requests refused by a full queue, independently of the (busy) handlers.</summary>
    private async Task RunMethodRejectionsAsync(CancellationToken cancellationToken)
    {
        await foreach (var rid in ReadUntilCancelledAsync(_methodRejections.Reader, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                await AnswerMethodAsync(Busy, rid, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OutOfMemoryException)
            {
                HubClientLog.MethodAnswerFailed(_logger, ex, "(refused: busy)");
            }
        }
    }

    /// <summary>Answers method requests one at a time. One bad request, handler or lost answer costs that request only: the
    /// loop ends only when the client is disposed.</summary>
    private async Task RunMethodDispatcherAsync(CancellationToken cancellationToken)
    {
        CallbackOwner.Value = this;
        await foreach (var (request, rid) in ReadUntilCancelledAsync(_methodRequests.Reader, cancellationToken).ConfigureAwait(false))
        {
            try
            {
                var response = await InvokeHandlerAsync(request, cancellationToken).ConfigureAwait(false);
                await AnswerMethodAsync(response, rid, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OutOfMemoryException)
            {
                // The service sees a timeout for this request; later requests are still answered.
                HubClientLog.MethodAnswerFailed(_logger, ex, request.Name);
            }
        }
    }

    private async Task AnswerMethodAsync(MethodResponse response, string rid, CancellationToken cancellationToken)
    {
        var answer = new MqttApplicationMessage
        {
            Topic = HubTopics.MethodResponse(response.Status, rid),
            Payload = new System.Buffers.ReadOnlySequence<byte>(response.Payload.IsEmpty ? "null"u8.ToArray() : response.Payload),
            QualityOfServiceLevel = MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce,
        };
        await RunAsync(async (session, token) => await session.Client.PublishAsync(answer, token).ConfigureAwait(false), cancellationToken)
            .ConfigureAwait(false);
    }

    private async ValueTask<MethodResponse> InvokeHandlerAsync(MethodRequest request, CancellationToken cancellationToken)
    {
        using var activity = HubDiagnostics.Source.StartActivity("DeviceClient.DirectMethod");
        activity?.SetTag("iothub.method", request.Name);
        var handler = _methodHandlers.GetValueOrDefault(request.Name) ?? _defaultMethodHandler;
        if (handler is null)
        {
            return new MethodResponse(501, Encoding.UTF8.GetBytes($"{{\"message\":\"Method '{JsonEscape(request.Name)}' is not implemented.\"}}"));
        }

        try
        {
            // A null from the handler breaks its contract, like a throw: the caller gets a 500, not silence.
            return await handler(request, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException($"The handler of method '{request.Name}' returned no response.");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            HubClientLog.HandlerFailed(_logger, ex, "method " + request.Name);
            return HandlerFailed;
        }
    }

    private static string JsonEscape(string value) => System.Text.Json.JsonEncodedText.Encode(value).ToString();
}

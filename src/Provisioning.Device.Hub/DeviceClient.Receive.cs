using System.Buffers;
using System.Text.Json;
using System.Text.Json.Nodes;
using MQTTnet;
using Provisioning.Device.Hub.Mqtt;

namespace Provisioning.Device.Hub;

/// <summary>What the hub sends: routed by topic to the twin requests in flight or to the dispatch queues. The MQTT receive
/// loop never waits for application code (that would stall the acknowledgements of our own publishes).</summary>
public sealed partial class DeviceClient
{
    private readonly System.Threading.Channels.Channel<(HubMessage Message, MqttApplicationMessageReceivedEventArgs Delivery)> _messages;
    private Func<HubMessage, CancellationToken, ValueTask>? _messageHandler;

    /// <summary>Sets the cloud-to-device message handler. A message is acknowledged after the handler returns (or throws: MQTT
    /// cannot reject, so a failure is logged); messages that arrive with no handler, or while
    /// <see cref="DeviceClientOptions.ReceiveQueueCapacity"/> messages wait for it, are left unacknowledged for redelivery.</summary>
    public void SetMessageHandler(Func<HubMessage, CancellationToken, ValueTask>? handler) => _messageHandler = handler;

    private Task OnMessageReceivedAsync(HubSession session, MqttApplicationMessageReceivedEventArgs e)
    {
        var topic = e.ApplicationMessage.Topic;
        try
        {
            if (topic.StartsWith(HubTopics.TwinResponsePrefix, StringComparison.Ordinal))
            {
                CompleteTwinRequest(topic, e.ApplicationMessage.Payload.ToArray());
            }
            else if (topic.StartsWith(HubAuthentication.CredentialsResponsePrefix, StringComparison.Ordinal))
            {
                CompleteCredentialResponse(topic, e.ApplicationMessage.Payload.ToArray());
            }
            else if (topic.StartsWith(HubTopics.DesiredPrefix, StringComparison.Ordinal))
            {
                _desired.Writer.TryWrite((topic, e.ApplicationMessage.Payload.ToArray()));
            }
            else if (topic.StartsWith(HubTopics.MethodRequestPrefix, StringComparison.Ordinal))
            {
                QueueMethodRequest(topic, e.ApplicationMessage.Payload.ToArray());
            }
            else if (topic.StartsWith(HubTopics.DeviceBoundPrefix(DeviceId), StringComparison.Ordinal))
            {
                e.AutoAcknowledge = false;
                if (_messageHandler is null)
                {
                    HubClientLog.Dropped(_logger, topic, "no message handler is set; left unacknowledged");
                }
                else if (!_messages.Writer.TryWrite((ToHubMessage(topic, e.ApplicationMessage.Payload), e)))
                {
                    // Backpressure: unacknowledged, the message stays with the hub, which delivers it again.
                    HubClientLog.Dropped(_logger, topic, "the message queue is full; left unacknowledged");
                }
            }
            else
            {
                HubClientLog.Dropped(_logger, topic, "unknown topic");
            }
        }
        catch (Exception ex) when (ex is FormatException or UriFormatException or ArgumentException)
        {
            HubClientLog.Dropped(_logger, topic, ex.Message);
        }

        return Task.CompletedTask;
    }

    private HubMessage ToHubMessage(string topic, ReadOnlySequence<byte> payload)
    {
        var properties = PropertyBag.Parse(topic.AsSpan(HubTopics.DeviceBoundPrefix(DeviceId).Length));
        var message = new HubMessage(payload.ToArray());
        var system = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in properties)
        {
            switch (key)
            {
                case "$.mid": message.MessageId = value; break;
                case "$.cid": message.CorrelationId = value; break;
                case "$.ct": message.ContentType = value; break;
                case "$.ce": message.ContentEncoding = value; break;
                default:
                    if (key.StartsWith("$.", StringComparison.Ordinal))
                    {
                        system[key] = value;
                    }
                    else
                    {
                        message.Properties[key] = value;
                    }

                    break;
            }
        }

        message.SystemProperties = system;
        return message;
    }

    /// <summary>Hands messages to the handler one at a time and acknowledges each afterwards. A failure costs that message only
    /// (at worst it is delivered again): the loop ends only when the client is disposed.</summary>
    private async Task RunMessageDispatcherAsync(CancellationToken cancellationToken)
    {
        CallbackOwner.Value = this;
        await foreach (var (message, delivery) in ReadUntilCancelledAsync(_messages.Reader, cancellationToken).ConfigureAwait(false))
        {
            if (_messageHandler is { } handler)
            {
                try
                {
                    await handler(message, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OutOfMemoryException)
                {
                    HubClientLog.HandlerFailed(_logger, ex, "message");
                }
            }

            try
            {
                await delivery.AcknowledgeAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is not OutOfMemoryException)
            {
                HubClientLog.AcknowledgeFailed(_logger, ex);
            }
        }
    }

    /// <summary>Parses a twin JSON document; malformed JSON from the hub becomes a non-transient <see cref="HubException"/>.</summary>
    internal static JsonObject ParseObject(ReadOnlySpan<byte> json, string what)
    {
        try
        {
            var document = JsonNode.Parse(json) as JsonObject ?? throw new HubException($"The hub sent {what} that is not a JSON object.", 0, isTransient: false);

            // JsonNode reads lazily: a duplicate name, or text that is not valid UTF-8 (or an escaped lone surrogate), would
            // only throw when first read, in the application's handler. Read every name and string now.
            ReadAll(document);
            return document;
        }
        catch (JsonException ex)
        {
            throw new HubException($"The hub sent {what} that is not valid JSON.", 0, isTransient: false, ex);
        }
        catch (Exception ex) when (ex is InvalidOperationException or ArgumentException)
        {
            throw new HubException($"The hub sent {what} with a duplicate name or text that is not valid Unicode.", 0, isTransient: false, ex);
        }
    }

    /// <summary>Materialises every property name and string of a parsed document (depth is bounded by the parser's 64).</summary>
    private static void ReadAll(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (_, value) in obj)
                {
                    ReadAll(value);
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    ReadAll(item);
                }

                break;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                _ = value.GetValue<string>();
                break;
            default:
                break;
        }
    }
}

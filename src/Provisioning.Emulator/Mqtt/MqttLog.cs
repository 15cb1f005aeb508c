using Microsoft.Extensions.Logging;

namespace Provisioning.Emulator.Mqtt;

/// <summary>The DPS MQTT endpoint's log messages. Passwords, tokens and payloads never appear.</summary>
internal static partial class MqttLog
{
    [LoggerMessage(EventId = 101, Level = LogLevel.Information, Message = "DPS MQTT endpoint listening on {Address} and {WebSocket}")]
    public static partial void Listening(ILogger logger, string? address, Uri? webSocket);

    [LoggerMessage(EventId = 102, Level = LogLevel.Information, Message = "DPS MQTT refused client {ClientId} (CONNACK {Code}): {Reason}")]
    public static partial void Refused(ILogger logger, string clientId, int code, string reason);

    [LoggerMessage(EventId = 103, Level = LogLevel.Warning, Message = "DPS MQTT: {ClientId} published to {Topic}, which is not a DPS request topic; closing the connection")]
    public static partial void ForbiddenTopic(ILogger logger, string clientId, string topic);

    [LoggerMessage(EventId = 104, Level = LogLevel.Warning, Message = "DPS MQTT: {ClientId} may not subscribe to {Filter}")]
    public static partial void ForbiddenSubscription(ILogger logger, string clientId, string filter);

    [LoggerMessage(EventId = 105, Level = LogLevel.Error, Message = "DPS MQTT: unhandled error serving {Operation} for {ClientId}")]
    public static partial void Unhandled(ILogger logger, Exception exception, DpsMqttOperation operation, string clientId);

    [LoggerMessage(EventId = 106, Level = LogLevel.Warning, Message = "DPS MQTT: could not answer {ClientId}")]
    public static partial void AnswerFailed(ILogger logger, Exception exception, string clientId);
}

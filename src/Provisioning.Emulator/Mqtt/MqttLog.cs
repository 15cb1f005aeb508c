using Microsoft.Extensions.Logging;

namespace Provisioning.Emulator.Mqtt;

/// <summary>The DPS MQTT endpoint's log messages. Passwords, tokens and payloads never appear.</summary>
/// <remarks>LoggerMessage.Define, not the [LoggerMessage] generator: the generator orders the log classes of one
/// assembly unstably (dotnet/runtime#119587), and this assembly must build deterministically; one generated class, EmulatorLog, stays.</remarks>
internal static class MqttLog
{
    private static readonly Action<ILogger, string?, Uri?, Exception?> ListeningMessage =
        LoggerMessage.Define<string?, Uri?>(LogLevel.Information, new EventId(101, nameof(Listening)), "DPS MQTT endpoint listening on {Address} and {WebSocket}");

    public static void Listening(ILogger logger, string? address, Uri? webSocket) => ListeningMessage(logger, address, webSocket, null);

    private static readonly Action<ILogger, string, int, string, Exception?> RefusedMessage =
        LoggerMessage.Define<string, int, string>(LogLevel.Information, new EventId(102, nameof(Refused)), "DPS MQTT refused client {ClientId} (CONNACK {Code}): {Reason}");

    public static void Refused(ILogger logger, string clientId, int code, string reason) => RefusedMessage(logger, clientId, code, reason, null);

    private static readonly Action<ILogger, string, string, Exception?> ForbiddenTopicMessage =
        LoggerMessage.Define<string, string>(LogLevel.Warning, new EventId(103, nameof(ForbiddenTopic)), "DPS MQTT: {ClientId} published to {Topic}, which is not a DPS request topic; closing the connection");

    public static void ForbiddenTopic(ILogger logger, string clientId, string topic) => ForbiddenTopicMessage(logger, clientId, topic, null);

    private static readonly Action<ILogger, string, string, Exception?> ForbiddenSubscriptionMessage =
        LoggerMessage.Define<string, string>(LogLevel.Warning, new EventId(104, nameof(ForbiddenSubscription)), "DPS MQTT: {ClientId} may not subscribe to {Filter}");

    public static void ForbiddenSubscription(ILogger logger, string clientId, string filter) => ForbiddenSubscriptionMessage(logger, clientId, filter, null);

    private static readonly Action<ILogger, DpsMqttOperation, string, Exception?> UnhandledMessage =
        LoggerMessage.Define<DpsMqttOperation, string>(LogLevel.Error, new EventId(105, nameof(Unhandled)), "DPS MQTT: unhandled error serving {Operation} for {ClientId}");

    public static void Unhandled(ILogger logger, Exception exception, DpsMqttOperation operation, string clientId) => UnhandledMessage(logger, operation, clientId, exception);

    private static readonly Action<ILogger, string, Exception?> AnswerFailedMessage =
        LoggerMessage.Define<string>(LogLevel.Warning, new EventId(106, nameof(AnswerFailed)), "DPS MQTT: could not answer {ClientId}");

    public static void AnswerFailed(ILogger logger, Exception exception, string clientId) => AnswerFailedMessage(logger, clientId, exception);
}

using Microsoft.Extensions.Logging;

namespace Provisioning.Emulator.Amqp;

/// <summary>The DPS AMQP endpoint's log messages. Passwords, tokens, blobs and payloads never appear.</summary>
internal static partial class AmqpLog
{
    [LoggerMessage(EventId = 121, Level = LogLevel.Information, Message = "DPS AMQP refused a SASL exchange from {Remote}: {Reason}")]
    public static partial void SaslRefused(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 122, Level = LogLevel.Information, Message = "DPS AMQP closed a connection from {Remote}: {Reason}")]
    public static partial void ConnectionRefused(ILogger logger, string remote, string reason);

    [LoggerMessage(EventId = 123, Level = LogLevel.Information, Message = "DPS AMQP refused a link to {Address}: {Reason}")]
    public static partial void LinkRefused(ILogger logger, string? address, string reason);

    [LoggerMessage(EventId = 124, Level = LogLevel.Error, Message = "DPS AMQP: unhandled error serving {Operation} for {RegistrationId}")]
    public static partial void Unhandled(ILogger logger, Exception exception, string operation, string registrationId);

    [LoggerMessage(EventId = 125, Level = LogLevel.Warning, Message = "DPS AMQP: could not answer {RegistrationId}: {Reason}")]
    public static partial void AnswerFailed(ILogger logger, string registrationId, string reason);

    [LoggerMessage(EventId = 126, Level = LogLevel.Information, Message = "DPS AMQP: a connection from {Remote} ended: {Reason}")]
    public static partial void ConnectionEnded(ILogger logger, Exception exception, string remote, string reason);
}

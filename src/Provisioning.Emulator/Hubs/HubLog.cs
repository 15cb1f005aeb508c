using Microsoft.Extensions.Logging;

namespace Provisioning.Emulator.Hubs;

/// <summary>The emulated hub's log messages. Tokens, keys and payloads never appear.</summary>
/// <remarks>LoggerMessage.Define, not the [LoggerMessage] generator: the generator orders the log classes of one
/// assembly unstably (dotnet/runtime#119587), and this assembly must build deterministically; one generated class, EmulatorLog, stays.</remarks>
internal static class HubLog
{
    private static readonly Action<ILogger, string, string, Exception?> ListeningMessage =
        LoggerMessage.Define<string, string>(LogLevel.Information, new EventId(1, nameof(Listening)), "Hub {Hub} listening on {Address}");

    public static void Listening(ILogger logger, string hub, string address) => ListeningMessage(logger, hub, address, null);

    private static readonly Action<ILogger, string, string, string, Exception?> RefusedMessage =
        LoggerMessage.Define<string, string, string>(LogLevel.Information, new EventId(2, nameof(Refused)), "Hub {Hub} refused client {ClientId}: {Reason}");

    public static void Refused(ILogger logger, string hub, string clientId, string reason) => RefusedMessage(logger, hub, clientId, reason, null);

    private static readonly Action<ILogger, string, string, Exception?> TokenExpiredMessage =
        LoggerMessage.Define<string, string>(LogLevel.Information, new EventId(3, nameof(TokenExpired)), "Hub {Hub}: the SAS token of {DeviceId} expired; closing the connection");

    public static void TokenExpired(ILogger logger, string hub, string deviceId) => TokenExpiredMessage(logger, hub, deviceId, null);

    private static readonly Action<ILogger, string, string, long, int, Exception?> TooLargeMessage =
        LoggerMessage.Define<string, string, long, int>(LogLevel.Warning, new EventId(4, nameof(TooLarge)), "Hub {Hub}: {DeviceId} sent {Size} bytes, over the {Limit}-byte limit; closing the connection");

    public static void TooLarge(ILogger logger, string hub, string deviceId, long size, int limit) => TooLargeMessage(logger, hub, deviceId, size, limit, null);

    private static readonly Action<ILogger, string, string, string?, Exception?> UnknownMethodResponseMessage =
        LoggerMessage.Define<string, string, string?>(LogLevel.Warning, new EventId(5, nameof(UnknownMethodResponse)), "Hub {Hub}: {DeviceId} answered method request {Rid}, which is not pending");

    public static void UnknownMethodResponse(ILogger logger, string hub, string deviceId, string? rid) => UnknownMethodResponseMessage(logger, hub, deviceId, rid, null);

    private static readonly Action<ILogger, string, string, string, Exception?> ForbiddenTopicMessage =
        LoggerMessage.Define<string, string, string>(LogLevel.Warning, new EventId(6, nameof(ForbiddenTopic)), "Hub {Hub}: {DeviceId} published to {Topic}, which it may not use; closing the connection");

    public static void ForbiddenTopic(ILogger logger, string hub, string deviceId, string topic) => ForbiddenTopicMessage(logger, hub, deviceId, topic, null);

    private static readonly Action<ILogger, string, string, Exception?> BadReportedPatchMessage =
        LoggerMessage.Define<string, string>(LogLevel.Information, new EventId(7, nameof(BadReportedPatch)), "Hub {Hub}: {DeviceId} sent a reported patch that is not a JSON object");

    public static void BadReportedPatch(ILogger logger, Exception exception, string hub, string deviceId) => BadReportedPatchMessage(logger, hub, deviceId, exception);

    private static readonly Action<ILogger, string, string, string, Exception?> ForbiddenSubscriptionMessage =
        LoggerMessage.Define<string, string, string>(LogLevel.Warning, new EventId(8, nameof(ForbiddenSubscription)), "Hub {Hub}: device {DeviceId} may not subscribe to {Topic}");

    public static void ForbiddenSubscription(ILogger logger, string hub, string deviceId, string topic) => ForbiddenSubscriptionMessage(logger, hub, deviceId, topic, null);

    private static readonly Action<ILogger, string, string, int, Exception?> PortTakenMessage =
        LoggerMessage.Define<string, string, int>(LogLevel.Information, new EventId(9, nameof(PortTaken)), "Hub {Hub}: {Address} was taken before it could be bound (attempt {Attempt}); trying another port");

    public static void PortTaken(ILogger logger, string hub, string address, int attempt) => PortTakenMessage(logger, hub, address, attempt, null);

    private static readonly Action<ILogger, string, string, Exception?> TwinResetMessage =
        LoggerMessage.Define<string, string>(LogLevel.Information, new EventId(10, nameof(TwinReset)), "Hub {Hub}: the registry entry of {DeviceId} was replaced with reset device data; its twin starts again from the initial twin");

    public static void TwinReset(ILogger logger, string hub, string deviceId) => TwinResetMessage(logger, hub, deviceId, null);
}

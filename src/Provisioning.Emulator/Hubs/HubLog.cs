using Microsoft.Extensions.Logging;

namespace Provisioning.Emulator.Hubs;

/// <summary>The emulated hub's log messages. Tokens, keys and payloads never appear.</summary>
internal static partial class HubLog
{
    [LoggerMessage(1, LogLevel.Information, "Hub {Hub} listening on {Address}")]
    public static partial void Listening(ILogger logger, string hub, string address);

    [LoggerMessage(2, LogLevel.Information, "Hub {Hub} refused client {ClientId}: {Reason}")]
    public static partial void Refused(ILogger logger, string hub, string clientId, string reason);

    [LoggerMessage(3, LogLevel.Information, "Hub {Hub}: the SAS token of {DeviceId} expired; closing the connection")]
    public static partial void TokenExpired(ILogger logger, string hub, string deviceId);

    [LoggerMessage(4, LogLevel.Warning, "Hub {Hub}: {DeviceId} sent {Size} bytes, over the {Limit}-byte limit; closing the connection")]
    public static partial void TooLarge(ILogger logger, string hub, string deviceId, long size, int limit);

    [LoggerMessage(5, LogLevel.Warning, "Hub {Hub}: {DeviceId} answered method request {Rid}, which is not pending")]
    public static partial void UnknownMethodResponse(ILogger logger, string hub, string deviceId, string? rid);

    [LoggerMessage(6, LogLevel.Warning, "Hub {Hub}: {DeviceId} published to {Topic}, which it may not use; closing the connection")]
    public static partial void ForbiddenTopic(ILogger logger, string hub, string deviceId, string topic);

    [LoggerMessage(7, LogLevel.Information, "Hub {Hub}: {DeviceId} sent a reported patch that is not a JSON object")]
    public static partial void BadReportedPatch(ILogger logger, Exception exception, string hub, string deviceId);

    [LoggerMessage(8, LogLevel.Warning, "Hub {Hub}: device {DeviceId} may not subscribe to {Topic}")]
    public static partial void ForbiddenSubscription(ILogger logger, string hub, string deviceId, string topic);

    [LoggerMessage(9, LogLevel.Information, "Hub {Hub}: {Address} was taken before it could be bound (attempt {Attempt}); trying another port")]
    public static partial void PortTaken(ILogger logger, string hub, string address, int attempt);

    [LoggerMessage(10, LogLevel.Information, "Hub {Hub}: the registry entry of {DeviceId} was replaced with reset device data; its twin starts again from the initial twin")]
    public static partial void TwinReset(ILogger logger, string hub, string deviceId);
}

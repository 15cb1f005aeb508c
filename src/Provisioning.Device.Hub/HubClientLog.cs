using Microsoft.Extensions.Logging;

namespace Provisioning.Device.Hub;

/// <summary>The client's log messages: states and drops, never tokens, keys or payloads.</summary>
internal static partial class HubClientLog
{
    [LoggerMessage(1, LogLevel.Information, "Device {DeviceId}: {State} ({Reason})")]
    public static partial void StateChanged(ILogger logger, string deviceId, ConnectionState state, ConnectionChangeReason reason);

    [LoggerMessage(2, LogLevel.Debug, "The connection dropped under an operation ({Exception}); trying it on the next connection")]
    public static partial void RetryingOnNextConnection(ILogger logger, string exception);

    [LoggerMessage(3, LogLevel.Warning, "Device {DeviceId}: operations in flight did not finish before the token renewal; they will be retried")]
    public static partial void DrainTimedOut(ILogger logger, string deviceId);

    [LoggerMessage(4, LogLevel.Error, "The application's {Handler} handler failed")]
    public static partial void HandlerFailed(ILogger logger, Exception exception, string handler);

    [LoggerMessage(5, LogLevel.Warning, "Dropped a message from the hub on {Topic}: {Reason}")]
    public static partial void Dropped(ILogger logger, string topic, string reason);

    [LoggerMessage(6, LogLevel.Warning, "Could not acknowledge a cloud-to-device message; the hub will deliver it again")]
    public static partial void AcknowledgeFailed(ILogger logger, Exception exception);

    [LoggerMessage(8, LogLevel.Warning, "A background loop stopped with an error while the client was closing")]
    public static partial void StoppedWithError(ILogger logger, Exception exception);

    [LoggerMessage(9, LogLevel.Warning, "Could not answer direct method {Method}")]
    public static partial void MethodAnswerFailed(ILogger logger, Exception exception, string method);

    [LoggerMessage(10, LogLevel.Debug, "Could not fetch the desired properties after reconnecting")]
    public static partial void ResyncFailed(ILogger logger, Exception exception);

    [LoggerMessage(7, LogLevel.Debug, "Skipped desired properties version {Version}: version {Last} was already delivered")]
    public static partial void StaleDesired(ILogger logger, long version, long last);

    [LoggerMessage(20, LogLevel.Information, "Device {DeviceId}: the hub issued a new certificate, valid until {NotAfter}; reconnecting with it")]
    public static partial void CertificateRenewed(ILogger logger, string deviceId, DateTimeOffset notAfter);

    [LoggerMessage(21, LogLevel.Warning, "Device {DeviceId}: certificate renewal attempt {Attempt} failed: {Reason}")]
    public static partial void CertificateRenewalFailed(ILogger logger, string deviceId, int attempt, string reason);

    [LoggerMessage(22, LogLevel.Warning, "Device {DeviceId}: the certificate key a renewal replaced could not be removed ({Reason}); the next renewal replaces it")]
    public static partial void CertificateKeyNotRetired(ILogger logger, string deviceId, string reason);

    [LoggerMessage(11, LogLevel.Warning, "Device {DeviceId} on {Hub}: {Reason} ({Error}); going back to DPS")]
    public static partial void Reprovisioning(ILogger logger, string deviceId, string hub, string reason, string error);

    [LoggerMessage(12, LogLevel.Warning, "The registration failed transiently ({Error}); registering again in {Delay}")]
    public static partial void RegistrationRetry(ILogger logger, string error, TimeSpan delay);
}

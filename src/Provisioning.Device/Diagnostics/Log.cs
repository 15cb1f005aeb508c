using Microsoft.Extensions.Logging;

namespace Provisioning.Device.Diagnostics;

/// <summary>The client's log events: one per state transition, one per retry. Never a key, token or blob.</summary>
internal static partial class Log
{
    [LoggerMessage(1, LogLevel.Debug, "Registration {RegistrationId}: {State}.")]
    public static partial void StateChanged(ILogger logger, string registrationId, RegistrationState state);

    [LoggerMessage(2, LogLevel.Information, "Registration {RegistrationId}: {State} after {Attempts} requests, hub {AssignedHub}, device {DeviceId}.")]
    public static partial void Finished(ILogger logger, string registrationId, RegistrationState state, int attempts, string? assignedHub, string? deviceId);

    [LoggerMessage(3, LogLevel.Information, "Registration {RegistrationId}: transient failure ({Reason}); retry {Retry} in {Delay}.")]
    public static partial void RetryScheduled(ILogger logger, string registrationId, string reason, int retry, TimeSpan delay);

    [LoggerMessage(4, LogLevel.Warning, "Registration {RegistrationId}: failed in state {State}: {Reason}")]
    public static partial void Errored(ILogger logger, string registrationId, RegistrationState state, string reason);

    [LoggerMessage(5, LogLevel.Warning, "The registration cache could not be read or written: {Reason}")]
    public static partial void CacheFailed(ILogger logger, string reason);

    [LoggerMessage(6, LogLevel.Debug, "An MQTT response was ignored: {Reason}")]
    public static partial void MqttResponseIgnored(ILogger logger, string reason);

    [LoggerMessage(7, LogLevel.Information, "The MQTT connection could not be closed cleanly: {Reason}")]
    public static partial void MqttDisconnectFailed(ILogger logger, string reason);

    [LoggerMessage(8, LogLevel.Information, "The AMQP connection could not be closed cleanly: {Reason}")]
    public static partial void AmqpCloseFailed(ILogger logger, string reason);

    [LoggerMessage(9, LogLevel.Warning, "The cached registration was discarded, DPS is asked instead: its {Problem}")]
    public static partial void CacheInvalid(ILogger logger, string problem);
}

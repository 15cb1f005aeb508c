using System.Diagnostics;

using Microsoft.Extensions.Logging;

namespace Provisioning.Emulator;

/// <summary>The emulator's log messages (source-generated, quiet by default).</summary>
internal static partial class EmulatorLog
{
    /// <summary>The emulator's activities (one per device registration), named like the assembly.</summary>
    public static readonly ActivitySource ActivitySource = new(EmulatorTelemetry.ActivitySourceName);

    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "DPS emulator listening on {Endpoint} (ID scope {IdScope})")]
    public static partial void Started(ILogger logger, Uri endpoint, string idScope);

    [LoggerMessage(EventId = 2, Level = LogLevel.Error, Message = "Unhandled error serving {Method} {Path}")]
    public static partial void Unhandled(ILogger logger, Exception exception, string method, string path);

    [LoggerMessage(EventId = 3, Level = LogLevel.Debug, Message = "The client went away during {Method} {Path} ({Reason})")]
    public static partial void ClientAborted(ILogger logger, string method, string path, string reason);
}

using Provisioning.Emulator.Device;
using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Faults;

/// <summary>The answers of injected faults, the same over every transport.</summary>
internal static class FaultAnswers
{
    /// <summary>The answer to an injected 429, 500 or 503; null for the faults that are not an answer (delay, drop).</summary>
    public static DeviceResponse? For(FaultRule rule, TimeProvider time) => rule.Kind switch
    {
        FaultKind.TooManyRequests => DeviceResponse.Error(DpsErrorCodes.Throttled, "Injected fault: throttled.", time, rule.RetryAfter),
        FaultKind.ServiceUnavailable => DeviceResponse.Error(DpsErrorCodes.ServiceUnavailable, "Injected fault: service unavailable.", time, rule.RetryAfter),
        FaultKind.InternalServerError => DeviceResponse.Error(DpsErrorCodes.InternalError, "Injected fault: internal error.", time),
        _ => null,
    };
}

using Microsoft.AspNetCore.Http;

using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Faults;

/// <summary>Applies the active fault rules before a request reaches its endpoint.</summary>
internal sealed class FaultMiddleware(FaultInjector faults, TimeProvider time)
{
    /// <summary>The <see cref="HttpContext.Items"/> key of a <see cref="FaultKind.SlowAssignment"/> delay for this request.</summary>
    public const string SlowAssignmentItem = "dps.slow-assignment";

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var rule = faults.Next(Classify(context.Request), DpsTransport.Https);
        switch (rule?.Kind)
        {
            case null:
                break;
            case FaultKind.Delay:
                await Task.Delay(rule.Delay, time, context.RequestAborted).ConfigureAwait(false);
                break;
            case FaultKind.DropConnection:
                context.Abort();
                return;
            case FaultKind.SlowAssignment:
                context.Items[SlowAssignmentItem] = rule.Delay;
                break;
            default:
                await DpsErrorWriter.WriteAsync(context, FaultAnswers.For(rule, time)!).ConfigureAwait(false);
                return;
        }

        await next(context).ConfigureAwait(false);
    }

    internal static DpsEndpoint Classify(HttpRequest request)
    {
        var path = request.Path.Value ?? "";
        var segments = path.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var deviceShaped = segments.Length >= 3 && segments[1] == "registrations";
        if (HttpMethods.IsPut(request.Method) && deviceShaped && segments.Length == 4 && segments[3] == "register")
        {
            return DpsEndpoint.Register;
        }

        if (HttpMethods.IsGet(request.Method) && deviceShaped && segments.Length == 5 && segments[3] == "operations")
        {
            return DpsEndpoint.OperationStatus;
        }

        if (HttpMethods.IsPost(request.Method) && deviceShaped && segments.Length == 3)
        {
            return DpsEndpoint.StatusLookup;
        }

        return DpsEndpoint.Service;
    }
}

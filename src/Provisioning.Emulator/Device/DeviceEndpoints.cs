using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

using Provisioning.Emulator.Certificates;
using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Device;

/// <summary>The device API over HTTPS: register, operation status, status lookup (dps-protocol.md §1), served by <see cref="DeviceService"/>.</summary>
internal sealed class DeviceEndpoints(DeviceService service)
{
    private const string RegionHeader = DpsEmulator.DeviceRegionHeader;

    private static EmulatorJsonContext Ctx => EmulatorJsonContext.Default;

    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapMethods("/{idScope}/registrations/{registrationId}/register", ["PUT"], RegisterAsync);
        routes.MapMethods("/{idScope}/registrations/{registrationId}/operations/{operationId}", ["GET"], OperationStatusAsync);
        routes.MapMethods("/{idScope}/registrations/{registrationId}", ["POST"], StatusLookupAsync);
    }

    private async Task RegisterAsync(HttpContext context)
    {
        var request = Describe(context);
        var slow = context.Items.TryGetValue(Faults.FaultMiddleware.SlowAssignmentItem, out var item) && item is TimeSpan delay ? delay : TimeSpan.Zero;
        var answer = service.Check(request) ?? await service.RegisterAsync(request, await ReadBodyAsync(context).ConfigureAwait(false), context.RequestAborted, slow).ConfigureAwait(false);
        await DpsErrorWriter.WriteAsync(context, answer).ConfigureAwait(false);
    }

    private async Task OperationStatusAsync(HttpContext context)
    {
        var answer = await service.OperationStatusAsync(Describe(context), (string)context.GetRouteValue("operationId")!).ConfigureAwait(false);
        await DpsErrorWriter.WriteAsync(context, answer).ConfigureAwait(false);
    }

    private async Task StatusLookupAsync(HttpContext context)
    {
        var request = Describe(context);
        var answer = service.Check(request) ?? await service.StatusLookupAsync(request, await ReadBodyAsync(context).ConfigureAwait(false)).ConfigureAwait(false);
        await DpsErrorWriter.WriteAsync(context, answer).ConfigureAwait(false);
    }

    /// <summary>The request checks come before the body is read, so a bad api-version or scope wins over a bad body.</summary>
    private static Task<RequestBody.Parsed<DeviceRegistrationRequest>> ReadBodyAsync(HttpContext context) =>
        RequestBody.ReadAsync(context.Request, Ctx.DeviceRegistrationRequest, context.RequestAborted);

    private static DeviceRequest Describe(HttpContext context)
    {
        var region = context.Request.Headers[RegionHeader].ToString();
        return new DeviceRequest(
            (string)context.GetRouteValue("idScope")!,
            (string)context.GetRouteValue("registrationId")!,
            ApiVersions.FromQuery(context.Request),
            context.Request.Headers.Authorization.ToString(),
            context.Connection.ClientCertificate,
            region.Length > 0 ? region : null,
            context.Features.Get<PresentedCertificates>()?.Intermediates);
    }
}

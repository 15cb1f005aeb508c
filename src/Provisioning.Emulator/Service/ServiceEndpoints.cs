using System.Text.Json.Serialization.Metadata;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;
using Provisioning.Emulator.Storage;

namespace Provisioning.Emulator.Service;

/// <summary>
/// The service API (api-version 2021-10-01): individual enrollments, enrollment groups and registration states, with
/// the DPS service JSON shapes and service SAS authentication.
/// </summary>
internal sealed partial class ServiceEndpoints(EmulatorStore store, DpsEmulatorOptions options, ServiceAuthenticator authenticator, EnrollmentValidator validator)
{
    private static EmulatorJsonContext Ctx => EmulatorJsonContext.Default;

    private TimeProvider Time => options.TimeProvider;

    public void Map(IEndpointRouteBuilder routes)
    {
        routes.MapMethods("/enrollments/query", ["POST"], c => Guarded(c, QueryEnrollmentsAsync));
        routes.MapMethods("/enrollments", ["POST"], c => Guarded(c, BulkEnrollmentsAsync));
        routes.MapMethods("/enrollments/{id}", ["PUT"], c => Guarded(c, PutEnrollmentAsync));
        routes.MapMethods("/enrollments/{id}", ["GET"], c => Guarded(c, GetEnrollmentAsync));
        routes.MapMethods("/enrollments/{id}", ["DELETE"], c => Guarded(c, DeleteEnrollmentAsync));
        routes.MapMethods("/enrollmentGroups/query", ["POST"], c => Guarded(c, QueryGroupsAsync));
        routes.MapMethods("/enrollmentGroups/{id}", ["PUT"], c => Guarded(c, PutGroupAsync));
        routes.MapMethods("/enrollmentGroups/{id}", ["GET"], c => Guarded(c, GetGroupAsync));
        routes.MapMethods("/enrollmentGroups/{id}", ["DELETE"], c => Guarded(c, DeleteGroupAsync));
        routes.MapMethods("/registrations/{id}", ["GET"], c => Guarded(c, GetRegistrationAsync));
        routes.MapMethods("/registrations/{id}", ["DELETE"], c => Guarded(c, DeleteRegistrationAsync));
        routes.MapMethods("/registrations/{id}/query", ["POST"], c => Guarded(c, QueryRegistrationsAsync));
    }

    private async Task Guarded(HttpContext context, Func<HttpContext, string, Task> handler)
    {
        if (ApiVersions.Match(context.Request, [ApiVersions.Service]) is null)
        {
            await Error(context, DpsErrorCodes.InvalidApiVersion, "The api-version is missing or not supported (2021-10-01).").ConfigureAwait(false);
            return;
        }

        var code = authenticator.Authenticate(context.Request, out var message);
        if (code != 0)
        {
            await Error(context, code, message).ConfigureAwait(false);
            return;
        }

        await handler(context, (string?)context.GetRouteValue("id") ?? "").ConfigureAwait(false);
    }

    private async Task PutEnrollmentAsync(HttpContext context, string id)
    {
        var body = await RequestBody.ReadAsync(context.Request, Ctx.IndividualEnrollment, context.RequestAborted).ConfigureAwait(false);
        if (body.ErrorCode != 0 || body.Value is null)
        {
            await Error(context, body.ErrorCode != 0 ? body.ErrorCode : DpsErrorCodes.MalformedRequest, body.Message ?? "The body is empty.").ConfigureAwait(false);
            return;
        }

        var enrollment = body.Value;
        store.Enrollments.TryGetValue(id, out var existing);
        if (!await CheckIfMatchAsync(context, existing?.Etag).ConfigureAwait(false))
        {
            return;
        }

        var problem = Prepare(enrollment, id, existing);
        if (problem is not null)
        {
            await Error(context, DpsErrorCodes.InvalidArgument, problem).ConfigureAwait(false);
            return;
        }

        var batch = new StoreBatch();
        batch.PutEnrollment(enrollment);
        await store.CommitAsync(batch, context.RequestAborted).ConfigureAwait(false);
        await DpsErrorWriter.WriteJsonAsync(context, enrollment, Ctx.IndividualEnrollment).ConfigureAwait(false);
    }

    /// <summary>Validates an incoming enrollment for <paramref name="id"/> and fills the service-owned fields; returns the problem, if any.</summary>
    private string? Prepare(IndividualEnrollment enrollment, string id, IndividualEnrollment? existing)
    {
        enrollment.RegistrationId ??= id;
        var problem = string.Equals(enrollment.RegistrationId, id, StringComparison.OrdinalIgnoreCase)
            ? validator.Normalize(enrollment.Attestation, group: false)
            : "The registration id in the body does not match the URL.";
        if (problem is not null)
        {
            return problem;
        }

        var now = Time.GetUtcNow().UtcDateTime;
        enrollment.RegistrationState = null;
        enrollment.ProvisioningStatus ??= "enabled";
        enrollment.AllocationPolicy ??= "hashed";
        enrollment.CreatedDateTimeUtc = existing?.CreatedDateTimeUtc ?? now;
        enrollment.LastUpdatedDateTimeUtc = now;
        enrollment.Etag = EnrollmentFactory.NewEtag();
        return null;
    }

    private async Task GetEnrollmentAsync(HttpContext context, string id)
    {
        if (!store.Enrollments.TryGetValue(id, out var enrollment))
        {
            await Error(context, DpsErrorCodes.NotFound, "The enrollment does not exist.").ConfigureAwait(false);
            return;
        }

        await DpsErrorWriter.WriteJsonAsync(context, WithState(enrollment), Ctx.IndividualEnrollment).ConfigureAwait(false);
    }

    private async Task DeleteEnrollmentAsync(HttpContext context, string id)
    {
        store.Enrollments.TryGetValue(id, out var existing);
        if (existing is null)
        {
            await Error(context, DpsErrorCodes.NotFound, "The enrollment does not exist.").ConfigureAwait(false);
            return;
        }

        if (!await CheckIfMatchAsync(context, existing.Etag).ConfigureAwait(false))
        {
            return;
        }

        var batch = new StoreBatch();
        batch.DeleteEnrollment(id);
        await store.CommitAsync(batch, context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private Task QueryEnrollmentsAsync(HttpContext context, string id) =>
        QueryAsync(context, () => store.Enrollments.Values.Select(WithState).OrderBy(e => e.RegistrationId, StringComparer.Ordinal).ToList(), Ctx.ListIndividualEnrollment);

    private async Task PutGroupAsync(HttpContext context, string id)
    {
        var body = await RequestBody.ReadAsync(context.Request, Ctx.EnrollmentGroup, context.RequestAborted).ConfigureAwait(false);
        if (body.ErrorCode != 0 || body.Value is null)
        {
            await Error(context, body.ErrorCode != 0 ? body.ErrorCode : DpsErrorCodes.MalformedRequest, body.Message ?? "The body is empty.").ConfigureAwait(false);
            return;
        }

        var group = body.Value;
        store.Groups.TryGetValue(id, out var existing);
        if (!await CheckIfMatchAsync(context, existing?.Etag).ConfigureAwait(false))
        {
            return;
        }

        group.EnrollmentGroupId ??= id;
        var problem = string.Equals(group.EnrollmentGroupId, id, StringComparison.OrdinalIgnoreCase)
            ? validator.Normalize(group.Attestation, group: true)
            : "The enrollment group id in the body does not match the URL.";
        if (problem is not null)
        {
            await Error(context, DpsErrorCodes.InvalidArgument, problem).ConfigureAwait(false);
            return;
        }

        var now = Time.GetUtcNow().UtcDateTime;
        group.ProvisioningStatus ??= "enabled";
        group.AllocationPolicy ??= "hashed";
        group.CreatedDateTimeUtc = existing?.CreatedDateTimeUtc ?? now;
        group.LastUpdatedDateTimeUtc = now;
        group.Etag = EnrollmentFactory.NewEtag();
        var batch = new StoreBatch();
        batch.PutGroup(group);
        await store.CommitAsync(batch, context.RequestAborted).ConfigureAwait(false);
        await DpsErrorWriter.WriteJsonAsync(context, group, Ctx.EnrollmentGroup).ConfigureAwait(false);
    }

    private async Task GetGroupAsync(HttpContext context, string id)
    {
        if (!store.Groups.TryGetValue(id, out var group))
        {
            await Error(context, DpsErrorCodes.NotFound, "The enrollment group does not exist.").ConfigureAwait(false);
            return;
        }

        await DpsErrorWriter.WriteJsonAsync(context, group, Ctx.EnrollmentGroup).ConfigureAwait(false);
    }

    private async Task DeleteGroupAsync(HttpContext context, string id)
    {
        store.Groups.TryGetValue(id, out var existing);
        if (existing is null)
        {
            await Error(context, DpsErrorCodes.NotFound, "The enrollment group does not exist.").ConfigureAwait(false);
            return;
        }

        if (!await CheckIfMatchAsync(context, existing.Etag).ConfigureAwait(false))
        {
            return;
        }

        var batch = new StoreBatch();
        batch.DeleteGroup(id);
        await store.CommitAsync(batch, context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private Task QueryGroupsAsync(HttpContext context, string id) =>
        QueryAsync(context, () => store.Groups.Values.OrderBy(g => g.EnrollmentGroupId, StringComparer.Ordinal).ToList(), Ctx.ListEnrollmentGroup);

    private async Task GetRegistrationAsync(HttpContext context, string id)
    {
        if (!store.Registrations.TryGetValue(id, out var record))
        {
            await Error(context, DpsErrorCodes.NotFound, "The registration does not exist.").ConfigureAwait(false);
            return;
        }

        await DpsErrorWriter.WriteJsonAsync(context, ToState(record), Ctx.DeviceRegistrationState).ConfigureAwait(false);
    }

    private async Task DeleteRegistrationAsync(HttpContext context, string id)
    {
        if (!store.Registrations.TryGetValue(id, out var record))
        {
            await Error(context, DpsErrorCodes.NotFound, "The registration does not exist.").ConfigureAwait(false);
            return;
        }

        if (!await CheckIfMatchAsync(context, record.Etag).ConfigureAwait(false))
        {
            return;
        }

        var batch = new StoreBatch();
        batch.DeleteRegistration(id);
        await store.CommitAsync(batch, context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private Task QueryRegistrationsAsync(HttpContext context, string groupId) =>
        QueryAsync(context, () => store.Registrations.Values
            .Where(r => string.Equals(r.EnrollmentGroupId, groupId, StringComparison.OrdinalIgnoreCase))
            .OrderBy(r => r.RegistrationId, StringComparer.Ordinal).Select(ToState).ToList(), Ctx.ListDeviceRegistrationState);

    private async Task QueryAsync<T>(HttpContext context, Func<List<T>> run, JsonTypeInfo<List<T>> typeInfo)
    {
        var body = await RequestBody.ReadAsync(context.Request, Ctx.QuerySpecification, context.RequestAborted).ConfigureAwait(false);
        if (body.ErrorCode != 0)
        {
            await Error(context, body.ErrorCode, body.Message!).ConfigureAwait(false);
            return;
        }

        await DpsErrorWriter.WriteJsonAsync(context, run(), typeInfo).ConfigureAwait(false);
    }

    private async Task<bool> CheckIfMatchAsync(HttpContext context, string? currentEtag)
    {
        var ifMatch = context.Request.Headers.IfMatch.ToString();
        if (ifMatch.Length == 0 || ifMatch == "*" || string.Equals(ifMatch, currentEtag, StringComparison.Ordinal))
        {
            return true;
        }

        await Error(context, DpsErrorCodes.PreconditionFailed, "The If-Match etag does not match the current one.").ConfigureAwait(false);
        return false;
    }

    private IndividualEnrollment WithState(IndividualEnrollment enrollment)
    {
        if (enrollment.RegistrationId is { } id && store.Registrations.TryGetValue(id, out var record))
        {
            var copy = System.Text.Json.JsonSerializer.Deserialize(System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(enrollment, Ctx.IndividualEnrollment), Ctx.IndividualEnrollment)!;
            copy.RegistrationState = ToState(record);
            return copy;
        }

        return enrollment;
    }

    internal static DeviceRegistrationState ToState(RegistrationRecord r) => new()
    {
        RegistrationId = r.RegistrationId,
        CreatedDateTimeUtc = r.CreatedDateTimeUtc,
        AssignedHub = r.AssignedHub,
        DeviceId = r.DeviceId,
        Status = r.Status,
        Substatus = r.Status == "assigned" ? r.Substatus : null,
        ErrorCode = r.ErrorCode,
        ErrorMessage = r.ErrorMessage,
        LastUpdatedDateTimeUtc = r.LastUpdatedDateTimeUtc,
        Etag = r.Etag,
        Payload = r.Payload,
    };

    private Task Error(HttpContext context, int code, string message) => DpsErrorWriter.WriteErrorAsync(context, code, message, Time);
}

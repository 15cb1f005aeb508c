using System.Text.Json.Serialization.Metadata;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

using Provisioning.Emulator.Device;
using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;
using Provisioning.Emulator.Storage;

namespace Provisioning.Emulator.Service;

/// <summary>
/// The service API (every api-version of <see cref="ApiVersions.ServiceVersions"/>): individual enrollments, enrollment groups and registration states, with
/// the DPS service JSON shapes and service SAS authentication.
/// </summary>
internal sealed partial class ServiceEndpoints(EmulatorStore store, DpsEmulatorOptions options, ServiceAuthenticator authenticator, EnrollmentValidator validator,
    OperationStore operations)
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
        routes.MapMethods("/enrollmentGroups", ["POST"], c => Guarded(c, BulkGroupsAsync));
        routes.MapMethods("/enrollmentGroups/{id}", ["PUT"], c => Guarded(c, PutGroupAsync));
        routes.MapMethods("/enrollmentGroups/{id}", ["GET"], c => Guarded(c, GetGroupAsync));
        routes.MapMethods("/enrollmentGroups/{id}", ["DELETE"], c => Guarded(c, DeleteGroupAsync));
        routes.MapMethods("/registrations/{id}", ["GET"], c => Guarded(c, GetRegistrationAsync));
        routes.MapMethods("/registrations/{id}", ["DELETE"], c => Guarded(c, DeleteRegistrationAsync));
        routes.MapMethods("/registrations/{id}/query", ["POST"], c => Guarded(c, QueryRegistrationsAsync));
        routes.MapMethods("/enrollments/{id}/attestationmechanism", ["POST"], c => Guarded(c, GetEnrollmentAttestationAsync));
        routes.MapMethods("/enrollmentGroups/{id}/attestationmechanism", ["POST"], c => Guarded(c, GetGroupAttestationAsync));
    }

    private async Task Guarded(HttpContext context, Func<HttpContext, string, Task> handler)
    {
        if (ApiVersions.Match(context.Request, ApiVersions.ServiceVersions) is null)
        {
            await Error(context, DpsErrorCodes.InvalidApiVersion,
                "The api-version is missing or not supported (" + string.Join(", ", ApiVersions.ServiceVersions) + ").").ConfigureAwait(false);
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

        if (!RegistrationIds.IsValid(id))
        {
            await Error(context, DpsErrorCodes.RegistrationIdMismatch, $"The registration id '{Printable(id)}' is invalid: a registration id is {RegistrationIds.Rule}.").ConfigureAwait(false);
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
            ? validator.Validate(enrollment)
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

    /// <summary>
    /// The enrollments query: as the service answers it, without each enrollment's <c>registrationState</c> (only a GET
    /// carries it; reported against the service by Azure/azure-iot-sdk-csharp#3478), so code that needs the assignment
    /// reads the enrollment or the registration.
    /// </summary>
    private Task QueryEnrollmentsAsync(HttpContext context, string id) =>
        QueryAsync(context, store.Enrollments.Values, e => e.RegistrationId!, e => e, "Enrollment", Ctx.ListIndividualEnrollment);

    private async Task PutGroupAsync(HttpContext context, string id)
    {
        var body = await RequestBody.ReadAsync(context.Request, Ctx.EnrollmentGroup, context.RequestAborted).ConfigureAwait(false);
        if (body.ErrorCode != 0 || body.Value is null)
        {
            await Error(context, body.ErrorCode != 0 ? body.ErrorCode : DpsErrorCodes.MalformedRequest, body.Message ?? "The body is empty.").ConfigureAwait(false);
            return;
        }

        if (!RegistrationIds.IsValid(id))
        {
            await Error(context, DpsErrorCodes.RegistrationIdMismatch, $"The enrollment group id '{Printable(id)}' is invalid: an enrollment group id is {RegistrationIds.Rule}.").ConfigureAwait(false);
            return;
        }

        var group = body.Value;
        store.Groups.TryGetValue(id, out var existing);
        if (!await CheckIfMatchAsync(context, existing?.Etag).ConfigureAwait(false))
        {
            return;
        }

        var problem = PrepareGroup(group, id, existing);
        if (problem is not null)
        {
            await Error(context, DpsErrorCodes.InvalidArgument, problem).ConfigureAwait(false);
            return;
        }

        var batch = new StoreBatch();
        batch.PutGroup(group);
        await store.CommitAsync(batch, context.RequestAborted).ConfigureAwait(false);
        await DpsErrorWriter.WriteJsonAsync(context, group, Ctx.EnrollmentGroup).ConfigureAwait(false);
    }

    /// <summary>Validates an incoming group for <paramref name="id"/> and fills the service-owned fields; returns the problem, if any.</summary>
    private string? PrepareGroup(EnrollmentGroup group, string id, EnrollmentGroup? existing)
    {
        group.EnrollmentGroupId ??= id;
        var problem = string.Equals(group.EnrollmentGroupId, id, StringComparison.OrdinalIgnoreCase)
            ? validator.Validate(group)
            : "The enrollment group id in the body does not match the URL.";
        if (problem is not null)
        {
            return problem;
        }

        var now = Time.GetUtcNow().UtcDateTime;
        group.ProvisioningStatus ??= "enabled";
        group.AllocationPolicy ??= "hashed";
        group.CreatedDateTimeUtc = existing?.CreatedDateTimeUtc ?? now;
        group.LastUpdatedDateTimeUtc = now;
        group.Etag = EnrollmentFactory.NewEtag();
        return null;
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
        QueryAsync(context, store.Groups.Values, g => g.EnrollmentGroupId!, g => g, "EnrollmentGroup", Ctx.ListEnrollmentGroup);

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

        // The etag a reader saw: the assigning one while the registration's operation is still assigning.
        if (!await CheckIfMatchAsync(context, operations.AsSeen(record).Etag).ConfigureAwait(false))
        {
            return;
        }

        var batch = new StoreBatch();
        batch.DeleteRegistration(id);
        await store.CommitAsync(batch, context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
    }

    private Task QueryRegistrationsAsync(HttpContext context, string groupId) =>
        QueryAsync(context, store.Registrations.Values.Where(r => string.Equals(r.EnrollmentGroupId, groupId, StringComparison.OrdinalIgnoreCase)),
            r => r.RegistrationId, ToState, "DeviceRegistration", Ctx.ListDeviceRegistrationState);

    private async Task<bool> CheckIfMatchAsync(HttpContext context, string? currentEtag)
    {
        // The service SDKs quote an etag that is not quoted yet (registration etags are bare in the bodies, enrollment etags quoted).
        var ifMatch = ServiceQuery.Unquote(context.Request.Headers.IfMatch.ToString());
        if (ifMatch.Length == 0 || ifMatch == "*" || string.Equals(ifMatch, ServiceQuery.Unquote(currentEtag ?? ""), StringComparison.Ordinal))
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

    /// <summary>
    /// The service's view of a registration: while its last operation is still assigning (<see cref="DpsEmulatorOptions.AssignmentDelay"/>
    /// or a slow-assignment fault), <c>status: assigning</c> with the id, dates and an etag of its own, and no hub or device id
    /// yet; then the stored state.
    /// </summary>
    private DeviceRegistrationState ToState(RegistrationRecord r) => ToStoredState(operations.AsSeen(r));

    private static DeviceRegistrationState ToStoredState(RegistrationRecord r) => new()
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

    private async Task GetEnrollmentAttestationAsync(HttpContext context, string id)
    {
        if (!store.Enrollments.TryGetValue(id, out var enrollment) || enrollment.Attestation is null)
        {
            await Error(context, DpsErrorCodes.NotFound, "The enrollment does not exist.").ConfigureAwait(false);
            return;
        }

        await DpsErrorWriter.WriteJsonAsync(context, enrollment.Attestation, Ctx.AttestationMechanism).ConfigureAwait(false);
    }

    private async Task GetGroupAttestationAsync(HttpContext context, string id)
    {
        if (!store.Groups.TryGetValue(id, out var group) || group.Attestation is null)
        {
            await Error(context, DpsErrorCodes.NotFound, "The enrollment group does not exist.").ConfigureAwait(false);
            return;
        }

        await DpsErrorWriter.WriteJsonAsync(context, group.Attestation, Ctx.AttestationMechanism).ConfigureAwait(false);
    }

    /// <summary>
    /// A query page (the SDKs' paging): items in id order, at most <c>x-ms-max-item-count</c> of them, after the id the
    /// <c>x-ms-continuation</c> token names; the answer says its <c>x-ms-item-type</c> and, when more follow, the next token.
    /// </summary>
    private async Task QueryAsync<TStored, T>(HttpContext context, IEnumerable<TStored> source, Func<TStored, string> key, Func<TStored, T> project,
        string itemType, JsonTypeInfo<List<T>> typeInfo)
    {
        var body = await RequestBody.ReadAsync(context.Request, Ctx.QuerySpecification, context.RequestAborted).ConfigureAwait(false);
        if (body.ErrorCode != 0)
        {
            await Error(context, body.ErrorCode, body.Message!).ConfigureAwait(false);
            return;
        }

        var paging = ServiceQuery.ReadPaging(context.Request, out var problem);
        if (paging is not { } page)
        {
            await Error(context, DpsErrorCodes.InvalidArgument, problem!).ConfigureAwait(false);
            return;
        }

        var ordered = source.Where(item => page.After is null || RegistrationIds.Comparer.Compare(key(item), page.After) > 0)
            .OrderBy(key, RegistrationIds.Comparer).Take(page.Size + 1).ToList();
        var more = ordered.Count > page.Size;
        if (more)
        {
            ordered.RemoveAt(ordered.Count - 1);
        }

        ServiceQuery.WriteHeaders(context.Response, itemType, page.Size, more ? key(ordered[^1]) : null);
        await DpsErrorWriter.WriteJsonAsync(context, ordered.Select(project).ToList(), typeInfo).ConfigureAwait(false);
    }

    /// <summary>An id for a message: printable ASCII only, at most 140 characters (the id came from the network).</summary>
    private static string Printable(string id) =>
        new([.. id.Take(140).Select(c => c is >= ' ' and < (char)127 ? c : '?')]);

    private Task Error(HttpContext context, int code, string message) => DpsErrorWriter.WriteErrorAsync(context, code, message, Time);
}

using Microsoft.AspNetCore.Http;

using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;
using Provisioning.Emulator.Storage;

namespace Provisioning.Emulator.Service;

/// <summary>
/// Bulk operations: <c>POST /enrollments</c> (the service SDK's <c>RunBulkEnrollmentOperationAsync</c>) and
/// <c>POST /enrollmentGroups</c> (the REST API's enrollment group bulk operation, in the Azure CLI's generated client), at
/// most <see cref="MaxBulkItems"/> items each as the API documents: every valid item is committed together, each refused
/// item is reported with its error.
/// </summary>
internal sealed partial class ServiceEndpoints
{
    /// <summary>The most items one bulk operation takes ("with maximum of 10 enrollments", the service's API description).</summary>
    public const int MaxBulkItems = 10;

    private async Task BulkEnrollmentsAsync(HttpContext context, string id)
    {
        var body = await RequestBody.ReadAsync(context.Request, Ctx.BulkEnrollmentOperation, context.RequestAborted).ConfigureAwait(false);
        if (body.ErrorCode != 0 || body.Value is not { Enrollments: { } enrollments } operation)
        {
            await Error(context, body.ErrorCode != 0 ? body.ErrorCode : DpsErrorCodes.MalformedRequest, body.Message ?? "The body needs mode and enrollments.").ConfigureAwait(false);
            return;
        }

        var batch = new StoreBatch();
        var errors = await RunBulkAsync(context, operation.Mode, enrollments, "enrollment", batch,
            e => e.RegistrationId, e => e.Etag,
            key => store.Enrollments.TryGetValue(key, out var existing) ? existing : null,
            (e, key, existing) => Prepare(e, key, existing), (b, e) => b.PutEnrollment(e), (b, key) => b.DeleteEnrollment(key)).ConfigureAwait(false);
        if (errors is null)
        {
            return;
        }

        await store.CommitAsync(batch, context.RequestAborted).ConfigureAwait(false);
        var result = new BulkEnrollmentOperationResult
        {
            IsSuccessful = errors.Count == 0,
            Errors = [.. errors.Select(e => new BulkEnrollmentOperationError { RegistrationId = e.Id, ErrorCode = e.Code, ErrorStatus = e.Status })],
        };
        await DpsErrorWriter.WriteJsonAsync(context, result, Ctx.BulkEnrollmentOperationResult).ConfigureAwait(false);
    }

    private async Task BulkGroupsAsync(HttpContext context, string id)
    {
        var body = await RequestBody.ReadAsync(context.Request, Ctx.BulkEnrollmentGroupOperation, context.RequestAborted).ConfigureAwait(false);
        if (body.ErrorCode != 0 || body.Value is not { EnrollmentGroups: { } groups } operation)
        {
            await Error(context, body.ErrorCode != 0 ? body.ErrorCode : DpsErrorCodes.MalformedRequest, body.Message ?? "The body needs mode and enrollmentGroups.").ConfigureAwait(false);
            return;
        }

        var batch = new StoreBatch();
        var errors = await RunBulkAsync(context, operation.Mode, groups, "enrollment group", batch,
            g => g.EnrollmentGroupId, g => g.Etag,
            key => store.Groups.TryGetValue(key, out var existing) ? existing : null,
            (g, key, existing) => PrepareGroup(g, key, existing), (b, g) => b.PutGroup(g), (b, key) => b.DeleteGroup(key)).ConfigureAwait(false);
        if (errors is null)
        {
            return;
        }

        await store.CommitAsync(batch, context.RequestAborted).ConfigureAwait(false);
        var result = new BulkEnrollmentGroupOperationResult
        {
            IsSuccessful = errors.Count == 0,
            Errors = [.. errors.Select(e => new BulkEnrollmentGroupOperationError { EnrollmentGroupId = e.Id, ErrorCode = e.Code, ErrorStatus = e.Status })],
        };
        await DpsErrorWriter.WriteJsonAsync(context, result, Ctx.BulkEnrollmentGroupOperationResult).ConfigureAwait(false);
    }

    /// <summary>
    /// Checks the mode and the item count (answering 400 and returning null when either is wrong), then each item in turn:
    /// valid ones are added to <paramref name="batch"/>, refused ones (invalid or repeated id, conflict, missing, stale etag,
    /// invalid content) come back as errors.
    /// </summary>
    private async Task<List<(string? Id, int Code, string Status)>?> RunBulkAsync<T>(HttpContext context, string? modeText, List<T> items, string noun,
        StoreBatch batch, Func<T, string?> idOf, Func<T, string?> etagOf, Func<string, T?> find,
        Func<T, string, T?, string?> prepare, Action<StoreBatch, T> put, Action<StoreBatch, string> delete)
        where T : class
    {
        var mode = modeText?.ToLowerInvariant();
        if (mode is not ("create" or "update" or "updateifmatchetag" or "delete"))
        {
            await Error(context, DpsErrorCodes.InvalidArgument, "mode must be create, update, updateIfMatchETag or delete.").ConfigureAwait(false);
            return null;
        }

        if (items.Count > MaxBulkItems)
        {
            await Error(context, DpsErrorCodes.InvalidArgument, $"A bulk operation takes at most {MaxBulkItems} items; this one has {items.Count}.").ConfigureAwait(false);
            return null;
        }

        var errors = new List<(string? Id, int Code, string Status)>();
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var item in items)
        {
            var key = idOf(item);
            if (string.IsNullOrWhiteSpace(key))
            {
                errors.Add((null, DpsErrorCodes.InvalidArgument, $"The {noun} id is missing."));
                continue;
            }

            var existing = find(key);
            var (code, problem) = mode switch
            {
                not "delete" when !RegistrationIds.IsValid(key)
                    => (DpsErrorCodes.RegistrationIdMismatch, $"The {noun} id is invalid: an id is {RegistrationIds.Rule}."),
                _ when !seen.Add(key) => (DpsErrorCodes.InvalidArgument, $"The {noun} appears more than once in the operation."),
                "create" when existing is not null => (DpsErrorCodes.Conflict, $"The {noun} already exists."),
                "delete" when existing is null => (DpsErrorCodes.NotFound, $"The {noun} does not exist."),
                "updateifmatchetag" when existing is not null
                    && !string.Equals(ServiceQuery.Unquote(etagOf(item) ?? ""), ServiceQuery.Unquote(etagOf(existing) ?? ""), StringComparison.Ordinal)
                    => (DpsErrorCodes.PreconditionFailed, "The etag does not match the current one."),
                "delete" => (0, null),
                _ => prepare(item, key, existing) is { } reason ? (DpsErrorCodes.InvalidArgument, reason) : (0, null),
            };
            if (problem is not null)
            {
                errors.Add((key, code, problem));
            }
            else if (mode == "delete")
            {
                delete(batch, key);
            }
            else
            {
                put(batch, item);
            }
        }

        return errors;
    }
}

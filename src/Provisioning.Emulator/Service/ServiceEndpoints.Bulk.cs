using Microsoft.AspNetCore.Http;

using Provisioning.Emulator.Json;
using Provisioning.Emulator.Protocol;
using Provisioning.Emulator.Storage;

namespace Provisioning.Emulator.Service;

/// <summary>
/// Bulk enrollment operations (<c>POST /enrollments</c>, as the service SDK's <c>RunBulkEnrollmentOperationAsync</c>
/// sends them): every valid item is committed together, each refused item is reported with its error.
/// </summary>
internal sealed partial class ServiceEndpoints
{
    private async Task BulkEnrollmentsAsync(HttpContext context, string id)
    {
        var body = await RequestBody.ReadAsync(context.Request, Ctx.BulkEnrollmentOperation, context.RequestAborted).ConfigureAwait(false);
        if (body.ErrorCode != 0 || body.Value is not { Enrollments: { } enrollments } operation)
        {
            await Error(context, body.ErrorCode != 0 ? body.ErrorCode : DpsErrorCodes.MalformedRequest, body.Message ?? "The body needs mode and enrollments.").ConfigureAwait(false);
            return;
        }

        var mode = operation.Mode?.ToLowerInvariant();
        if (mode is not ("create" or "update" or "updateifmatchetag" or "delete"))
        {
            await Error(context, DpsErrorCodes.InvalidArgument, "mode must be create, update, updateIfMatchETag or delete.").ConfigureAwait(false);
            return;
        }

        var result = new BulkEnrollmentOperationResult();
        var batch = new StoreBatch();
        foreach (var enrollment in enrollments)
        {
            var registrationId = enrollment.RegistrationId;
            if (string.IsNullOrWhiteSpace(registrationId))
            {
                result.Errors.Add(new BulkEnrollmentOperationError { ErrorCode = DpsErrorCodes.InvalidArgument, ErrorStatus = "registrationId is missing." });
                continue;
            }

            store.Enrollments.TryGetValue(registrationId, out var existing);
            var (code, problem) = mode switch
            {
                not "delete" when !RegistrationIds.IsValid(registrationId)
                    => (DpsErrorCodes.RegistrationIdMismatch, $"The registration id is invalid: a registration id is {RegistrationIds.Rule}."),
                "create" when existing is not null => (DpsErrorCodes.Conflict, "The enrollment already exists."),
                "delete" when existing is null => (DpsErrorCodes.NotFound, "The enrollment does not exist."),
                "updateifmatchetag" when existing is not null && !string.Equals(ServiceQuery.Unquote(enrollment.Etag ?? ""), ServiceQuery.Unquote(existing.Etag ?? ""), StringComparison.Ordinal)
                    => (DpsErrorCodes.PreconditionFailed, "The etag does not match the current one."),
                "delete" => (0, null),
                _ => Prepare(enrollment, registrationId, existing) is { } reason ? (DpsErrorCodes.InvalidArgument, reason) : (0, null),
            };
            if (problem is not null)
            {
                result.Errors.Add(new BulkEnrollmentOperationError { RegistrationId = registrationId, ErrorCode = code, ErrorStatus = problem });
            }
            else if (mode == "delete")
            {
                batch.DeleteEnrollment(registrationId);
            }
            else
            {
                batch.PutEnrollment(enrollment);
            }
        }

        await store.CommitAsync(batch, context.RequestAborted).ConfigureAwait(false);
        result.IsSuccessful = result.Errors.Count == 0;
        await DpsErrorWriter.WriteJsonAsync(context, result, Ctx.BulkEnrollmentOperationResult).ConfigureAwait(false);
    }
}

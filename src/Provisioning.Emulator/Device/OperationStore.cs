using System.Collections.Concurrent;

using Provisioning.Emulator.Json;

namespace Provisioning.Emulator.Device;

/// <summary>
/// Recent registration operations by id, holding the final answer ready to send. The last operation of each
/// registration is also kept in its stored record, so a status read after a restart still works.
/// </summary>
internal sealed class OperationStore(TimeProvider time)
{
    // Older operations are still answered from the registration's record (its last operation), so the cache stays small.
    private static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);
    private const int PruneEvery = 10_000;

    private readonly ConcurrentDictionary<string, Operation> _operations = new(StringComparer.Ordinal);
    private int _added;

    /// <summary>Records the operation, whose final answer is given from <paramref name="readyAt"/> on (before: <c>assigning</c>).</summary>
    public void Add(string operationId, string registrationId, byte[] finalBody, DateTimeOffset readyAt)
    {
        if (Interlocked.Increment(ref _added) % PruneEvery == 0)
        {
            var cutoff = time.GetUtcNow() - Lifetime;
            foreach (var (id, op) in _operations)
            {
                // An operation still assigning is kept: its record's last operation does not know its delay.
                if (op.Created < cutoff && op.ReadyAt < cutoff)
                {
                    _operations.TryRemove(id, out _);
                }
            }
        }

        _operations[operationId] = new Operation(registrationId, finalBody, time.GetUtcNow(), readyAt);
    }

    /// <summary>Finds the operation's final body when it belongs to the registration, and when it may be given.</summary>
    public byte[]? Find(string operationId, string registrationId, out DateTimeOffset readyAt)
    {
        if (_operations.TryGetValue(operationId, out var op) && string.Equals(op.RegistrationId, registrationId, StringComparison.OrdinalIgnoreCase))
        {
            readyAt = op.ReadyAt;
            return op.FinalBody;
        }

        readyAt = default;
        return null;
    }

    /// <summary>
    /// Whether the registration's last operation is still <c>assigning</c> (<see cref="DpsEmulatorOptions.AssignmentDelay"/>,
    /// or a <see cref="Faults.FaultKind.SlowAssignment"/> fault): true until its ready time on the emulator's clock. An
    /// operation no longer held here (after a restart, or pruned) has finished, as its status poll then says too.
    /// </summary>
    public bool IsAssigning(RegistrationRecord record) =>
        record.LastOperationId is { } operationId && Find(operationId, record.RegistrationId, out var readyAt) is not null && time.GetUtcNow() < readyAt;

    /// <summary>
    /// The registration as the service API and the portal show it: while its operation is still assigning (<see cref="IsAssigning"/>),
    /// a copy with <c>status: assigning</c>, the id, dates, attestation and group, and an etag of its own
    /// (<see cref="RegistrationResults.AssigningEtag"/>), no hub or device id yet; otherwise the stored record itself.
    /// </summary>
    public RegistrationRecord AsSeen(RegistrationRecord record) => IsAssigning(record)
        ? new RegistrationRecord
        {
            RegistrationId = record.RegistrationId,
            Status = "assigning",
            CreatedDateTimeUtc = record.CreatedDateTimeUtc,
            LastUpdatedDateTimeUtc = record.LastUpdatedDateTimeUtc,
            Etag = RegistrationResults.AssigningEtag(record),
            AttestationType = record.AttestationType,
            EnrollmentGroupId = record.EnrollmentGroupId,
        }
        : record;

    /// <summary>A new id in the service's <c>4.{hex}.{guid}</c> form.</summary>
    public static string NewId() => "4." + Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(8)) + "." + Guid.NewGuid();

    private sealed record Operation(string RegistrationId, byte[] FinalBody, DateTimeOffset Created, DateTimeOffset ReadyAt);
}

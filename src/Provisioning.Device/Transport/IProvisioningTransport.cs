namespace Provisioning.Device.Transport;

/// <summary>One wire protocol to DPS: sends a registration or a status poll and interprets the answer.</summary>
/// <remarks>
/// Errors are thrown as <see cref="ProvisioningException"/> with <see cref="ProvisioningException.IsTransient"/> set
/// as dps-protocol.md §1.7 says; retrying is the state machine's job, not the transport's.
/// </remarks>
internal interface IProvisioningTransport : IDisposable
{
    ValueTask<DpsReply> RegisterAsync(DpsRequestContext context, CancellationToken cancellationToken);

    ValueTask<DpsReply> GetOperationStatusAsync(DpsRequestContext context, string operationId, CancellationToken cancellationToken);
}

/// <summary>What every request of one registration shares.</summary>
internal sealed class DpsRequestContext
{
    public required string IdScope { get; init; }

    public required string RegistrationId { get; init; }

    public required string ApiVersion { get; init; }

    /// <summary>The registration body, sent unchanged on every attempt (and after the challenge).</summary>
    public required byte[] Body { get; init; }

    /// <summary>The <c>Authorization</c> SAS, or <see langword="null"/> (X.509, or TPM before its challenge).</summary>
    public string? Authorization { get; set; }

    /// <summary>The SAS resource, <c>{idScope}/registrations/{registrationId}</c> (dps-protocol.md §2.4).</summary>
    public string SasResource => $"{IdScope}/registrations/{RegistrationId}";
}

/// <summary>A successful answer: an operation status, or a TPM challenge.</summary>
internal sealed class DpsReply
{
    public DpsOperation? Operation { get; init; }

    /// <summary>The decoded activation blob of a 401 challenge (§1.4); the receiver zeroes it.</summary>
    public byte[]? ChallengeKey { get; init; }

    /// <summary>The server's <c>Retry-After</c>, if it sent one.</summary>
    public TimeSpan? RetryAfter { get; init; }
}

using System.Net;

namespace Provisioning.Device;

/// <summary>
/// The one error a provisioning caller acts on: the service refused or failed the request, the network failed, or the
/// service answered something the client cannot read.
/// </summary>
/// <remarks>
/// Outcomes such as <c>disabled</c> or <c>failed</c> are not errors: they arrive on <see cref="DeviceRegistrationResult"/>.
/// Transience follows dps-protocol.md §1.7: 408, 429 and 5xx (but 501 and 505), connection failures and timeouts are
/// transient; everything else, including a malformed response, is not. The message never carries keys, SAS signatures
/// or activation blobs.
/// </remarks>
public sealed class ProvisioningException : Exception
{
    /// <summary>Creates an exception with a message.</summary>
    public ProvisioningException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and its cause.</summary>
    public ProvisioningException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates an exception.</summary>
    public ProvisioningException()
    {
    }

    internal ProvisioningException(
        string message,
        bool isTransient,
        HttpStatusCode? statusCode = null,
        int? errorCode = null,
        string? trackingId = null,
        TimeSpan? retryAfter = null,
        Exception? innerException = null)
        : base(message, innerException)
    {
        IsTransient = isTransient;
        StatusCode = statusCode;
        ErrorCode = errorCode;
        TrackingId = trackingId;
        RetryAfter = retryAfter;
    }

    /// <summary>
    /// The HTTP status the service answered with (over MQTT, the status of the response topic), or
    /// <see langword="null"/> when no response arrived. An MQTT CONNECT refused with return code 3 reports 503, and
    /// one refused with 4 or 5 reports 401.
    /// </summary>
    public HttpStatusCode? StatusCode { get; }

    /// <summary>The DPS error code (HTTP status × 1000 + detail, e.g. 401002), when the service sent one.</summary>
    public int? ErrorCode { get; }

    /// <summary>The service's tracking id for support requests, when it sent one.</summary>
    public string? TrackingId { get; }

    /// <summary>Whether trying again later may succeed.</summary>
    public bool IsTransient { get; }

    /// <summary>How long the service asked the client to wait, from its <c>Retry-After</c> header.</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>An answer that is well formed but names an identity no hub would accept: which field, why, and the rule.</summary>
    internal static ProvisioningException Invalid(string operation, string field, string problem, string rule, HttpStatusCode? status = null) =>
        new($"The provisioning service answered {operation} with an invalid {field} ({problem}); it must be {rule}. Nothing was cached.",
            isTransient: false, statusCode: status);

    internal static ProvisioningException Malformed(string operation, string what, HttpStatusCode? status = null) =>
        new($"The provisioning service sent a malformed response to {operation}: {what}.", isTransient: false, statusCode: status);
}

namespace Provisioning.Emulator.Protocol;

/// <summary>
/// The emulator's error codes: HTTP status × 1000 + a detail (dps-protocol.md §1.7), so a client can derive the status.
/// </summary>
/// <remarks>The real service publishes only the status part; the details here are the emulator's own, stable for tests.</remarks>
internal static class DpsErrorCodes
{
    /// <summary>The body is not valid JSON or not a valid registration request.</summary>
    public const int MalformedRequest = 400001;

    /// <summary>The api-version query parameter is missing or not one the emulator speaks.</summary>
    public const int InvalidApiVersion = 400002;

    /// <summary>The registration id in the body, URL or certificate disagree.</summary>
    public const int RegistrationIdMismatch = 400004;

    /// <summary>The csr's common name is not the registration id (the registration-id mismatch code, as for certificates).</summary>
    public const int CsrCommonNameMismatch = RegistrationIdMismatch;

    /// <summary>The csr's signature does not verify with the public key it carries (emulator code; the service's is not public).</summary>
    public const int CsrSignatureInvalid = 400013;

    /// <summary>The csr's key is weak: RSA under 2048 bits, or ECDSA off the NIST curves (emulator code; the service's is not public).</summary>
    public const int CsrKeyRejected = 400014;

    /// <summary>A TPM enrollment exists but no TPM credential issuer is configured.</summary>
    public const int TpmNotSupported = 400005;

    /// <summary>The device's EK or SRK was refused.</summary>
    public const int TpmKeyRejected = 400006;

    /// <summary>A request field is invalid (service API).</summary>
    public const int InvalidArgument = 400007;

    /// <summary>No linked hub could be chosen (hub not specified).</summary>
    public const int HubNotSpecified = 400208;

    /// <summary>The custom allocation webhook failed or answered badly.</summary>
    public const int CustomAllocationFailed = 400209;

    /// <summary>Authentication failed: no enrollment, wrong key, wrong audience, bad certificate.</summary>
    public const int Unauthorized = 401002;

    /// <summary>The SAS token's <c>se</c> is in the past.</summary>
    public const int ExpiredToken = 401003;

    /// <summary>The Authorization header is not a well-formed SAS token.</summary>
    public const int MalformedToken = 401004;

    /// <summary>An unknown operation id, enrollment or registration.</summary>
    public const int NotFound = 404001;

    /// <summary>An unknown operation id.</summary>
    public const int OperationNotFound = 404204;

    /// <summary>The route or method does not exist.</summary>
    public const int MethodNotAllowed = 405001;

    /// <summary>The resource already exists (bulk <c>create</c>).</summary>
    public const int Conflict = 409001;

    /// <summary>The If-Match etag does not match.</summary>
    public const int PreconditionFailed = 412001;

    /// <summary>The body exceeds 96 KB.</summary>
    public const int PayloadTooLarge = 413001;

    /// <summary>Throttled (real per-unit limits, or an injected fault).</summary>
    public const int Throttled = 429001;

    /// <summary>An injected internal error, or an unexpected failure.</summary>
    public const int InternalError = 500001;

    /// <summary>An injected service-unavailable fault.</summary>
    public const int ServiceUnavailable = 503001;
}

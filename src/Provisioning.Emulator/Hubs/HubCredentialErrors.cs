namespace Provisioning.Emulator.Hubs;

/// <summary>The error codes of IoT Hub's credentials API (<c>$iothub/credentials/POST/issueCertificate</c>, hub api-version
/// 2025-08-01-preview) as the service answers them: status × 1000 + a detail.</summary>
/// <remarks>Source: the "Issue Certificate API - SDK Reference Guide" Microsoft wrote for SDK teams from a test run against
/// the service (2026-01-30): payload faults answer 400004 (400006 for JSON that does not parse) at once; a CSR the
/// certificate backend refuses (bad structure, signature, key or subject) answers 202, then 400037 with
/// <c>info.credentialError</c> 400000 and <c>info.credentialMessage</c> "CSR did not pass verification".</remarks>
internal static class HubCredentialErrors
{
    /// <summary>A missing or invalid field (<c>id</c>, <c>csr</c>, <c>replace</c>), an unknown field, an empty payload, an
    /// <c>id</c> that is not the connected device's, a <c>csr</c> that is not base64 or longer than 8 KB.</summary>
    public const int InvalidRequest = 400004;

    /// <summary>A payload that is not JSON.</summary>
    public const int MalformedJson = 400006;

    /// <summary>A <c>replace</c> naming a request id that is not pending (the emulator never has one pending).</summary>
    public const int NoRequestToReplace = 412001;

    /// <summary>The CSR did not pass the certificate backend's verification (after the 202).</summary>
    public const int CsrVerificationFailed = 400037;
}

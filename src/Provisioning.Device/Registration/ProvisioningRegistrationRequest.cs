namespace Provisioning.Device;

/// <summary>What the device sends with a registration (dps-protocol.md §1.3).</summary>
public sealed class ProvisioningRegistrationRequest
{
    /// <summary>Any JSON value, sent verbatim as <c>payload</c> (for a custom allocation webhook).</summary>
    public string? JsonPayload { get; init; }

    /// <summary>
    /// An IoT Plug and Play model id (<c>dtmi:…</c>), sent as <c>{"modelId": …}</c> in the payload; when
    /// <see cref="JsonPayload"/> is also set it must be a JSON object, and <c>modelId</c> is added to it.
    /// </summary>
    public string? ModelId { get; init; }

    /// <summary>The api-version query parameter. Default <see cref="ProvisioningClientOptions.DefaultApiVersion"/>.</summary>
    public string ApiVersion { get; init; } = ProvisioningClientOptions.DefaultApiVersion;

    /// <summary>Ignore the registration cache and ask the service (for reprovisioning).</summary>
    public bool BypassCache { get; init; }

    /// <summary>
    /// The key of a certificate to be issued with the registration (dps-protocol.md §9): its PKCS#10 request, subject
    /// <c>CN={registrationId}</c>, is sent as <c>csr</c>, and the issued chain is checked against it before the result is
    /// returned or cached. Needs api-version <see cref="ProvisioningClientOptions.CertificateIssuanceApiVersion"/>, which
    /// replaces the default <see cref="ApiVersion"/> when this is set. Owned by the caller. Default none.
    /// </summary>
    public CertificateSigningKey? CertificateSigningKey { get; init; }
}

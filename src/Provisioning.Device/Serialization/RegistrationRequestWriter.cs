using System.Buffers;
using System.Text.Json;

namespace Provisioning.Device.Serialization;

/// <summary>Writes the <c>DeviceRegistration</c> request body (dps-protocol.md §1.3).</summary>
/// <remarks>
/// <c>registrationId</c> always; the attestation's own properties (TPM: <c>tpm</c>); <c>payload</c> only when given,
/// verbatim, with a Plug and Play <c>modelId</c> merged in (§1.3).
/// </remarks>
internal static class RegistrationRequestWriter
{
    public static async ValueTask<byte[]> WriteAsync(
        string registrationId, ProvisioningAttestation attestation, ProvisioningRegistrationRequest request, CancellationToken cancellationToken)
    {
        // dps-protocol.md §9: base64 DER PKCS#10, no PEM armour, CN = registration id.
        string? csr = request.CertificateSigningKey is { } key
            ? Convert.ToBase64String(await key.CreateSigningRequestAsync(registrationId, cancellationToken).ConfigureAwait(false))
            : null;
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("registrationId", registrationId);
            await attestation.WriteRequestBodyAsync(writer, cancellationToken).ConfigureAwait(false);
            WritePayload(writer, request);
            if (csr is not null)
            {
                writer.WriteString("csr", csr);
            }

            writer.WriteEndObject();
        }

        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Checks the caller's payload before anything is sent.</summary>
    /// <exception cref="ArgumentException">The payload is not JSON, or is not an object when a model id is added.</exception>
    public static void Validate(ProvisioningRegistrationRequest request)
    {
        if (request.CertificateSigningKey is not null && Array.IndexOf(VersionsWithoutCsr, request.ApiVersion) >= 0 && request.ApiVersion != ProvisioningClientOptions.DefaultApiVersion)
        {
            throw new ArgumentException(
                $"api-version {request.ApiVersion} cannot carry a certificate signing request; use {ProvisioningClientOptions.CertificateIssuanceApiVersion}.", nameof(request));
        }

        if (request.JsonPayload is null)
        {
            return;
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(request.JsonPayload);
            if (request.ModelId is not null && document.RootElement.ValueKind != JsonValueKind.Object)
            {
                throw new ArgumentException("A payload sent with a model id must be a JSON object.", nameof(request));
            }
        }
        catch (JsonException ex)
        {
            throw new ArgumentException("The payload is not valid JSON.", nameof(request), ex);
        }
    }

    /// <summary>The api-version a request is sent with: the certificate issuance version replaces the default when a CSR is sent.</summary>
    public static string EffectiveApiVersion(ProvisioningRegistrationRequest request) =>
        request.CertificateSigningKey is not null && request.ApiVersion == ProvisioningClientOptions.DefaultApiVersion
            ? ProvisioningClientOptions.CertificateIssuanceApiVersion
            : request.ApiVersion;

    /// <summary>The api-versions that predate <c>csr</c> (dps-protocol.md §1.1).</summary>
    private static readonly string[] VersionsWithoutCsr = ["2017-11-15", "2018-04-01", "2018-09-01-preview", "2018-11-01", "2019-03-31", "2021-06-01", "2021-11-01-preview"];

    private static void WritePayload(Utf8JsonWriter writer, ProvisioningRegistrationRequest request)
    {
        if (request.ModelId is null)
        {
            if (request.JsonPayload is not null)
            {
                writer.WritePropertyName("payload");
                writer.WriteRawValue(request.JsonPayload);
            }

            return;
        }

        writer.WriteStartObject("payload");
        writer.WriteString("modelId", request.ModelId);
        if (request.JsonPayload is not null)
        {
            using JsonDocument document = JsonDocument.Parse(request.JsonPayload);
            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                if (!property.NameEquals("modelId"))
                {
                    property.WriteTo(writer);
                }
            }
        }

        writer.WriteEndObject();
    }
}

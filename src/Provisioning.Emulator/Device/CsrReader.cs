using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Emulator.Device;

/// <summary>Reads the PKCS#10 request a device sends for certificate issuance, turning every malformed input into a problem
/// text for a 400 (never an exception).</summary>
/// <remarks>dps-protocol.md §9 (2025-07-01-preview <c>csr</c>): the request's common name must be the registration id.</remarks>
internal static class CsrReader
{
    private const string CommonNameOid = "2.5.4.3";

    /// <summary>Reads a base64 DER PKCS#10 request whose signature verifies and whose CN is the registration id.</summary>
    public static bool TryRead(string base64, string registrationId, out CertificateRequest? request, out string problem)
    {
        request = null;
        problem = "";
        CertificateRequest loaded;
        try
        {
            loaded = CertificateRequest.LoadSigningRequest(Convert.FromBase64String(base64), HashAlgorithmName.SHA256);
        }
        // NotSupportedException (and PlatformNotSupportedException): a key algorithm or curve this platform does not know, e.g. a mutated OID.
        catch (Exception ex) when (ex is FormatException or CryptographicException or ArgumentException or NotSupportedException)
        {
            problem = "The csr is not a base64 DER PKCS#10 request with a valid signature.";
            return false;
        }

        if (!TryGetCommonName(loaded.SubjectName, out var commonName))
        {
            problem = "The csr's subject is malformed or puts its common name in a multi-valued RDN.";
            return false;
        }

        if (!string.Equals(commonName, registrationId, StringComparison.OrdinalIgnoreCase))
        {
            problem = "The csr's common name must be the registration id.";
            return false;
        }

        request = loaded;
        return true;
    }

    /// <summary>The first single-valued CN of <paramref name="name"/> (null when there is none); false when the name does not
    /// decode, or a CN sits in a multi-valued RDN (<c>CN=a+O=b</c>), which would make the issued subject ambiguous.</summary>
    private static bool TryGetCommonName(X500DistinguishedName name, out string? commonName)
    {
        commonName = null;
        try
        {
            foreach (var rdn in name.EnumerateRelativeDistinguishedNames())
            {
                if (rdn.HasMultipleElements)
                {
                    if (ContainsCommonName(rdn.RawData))
                    {
                        return false;
                    }
                }
                else if (commonName is null && rdn.GetSingleElementType().Value == CommonNameOid)
                {
                    commonName = rdn.GetSingleElementValue();
                }
            }

            return true;
        }
        catch (Exception ex) when (ex is CryptographicException or AsnContentException)
        {
            return false;
        }
    }

    /// <summary>Whether a <c>SET OF AttributeTypeAndValue</c> holds a CN.</summary>
    private static bool ContainsCommonName(ReadOnlyMemory<byte> rdn)
    {
        var set = new AsnReader(rdn, AsnEncodingRules.DER).ReadSetOf(skipSortOrderValidation: true);
        while (set.HasData)
        {
            if (set.ReadSequence().ReadObjectIdentifier() == CommonNameOid)
            {
                return true;
            }
        }

        return false;
    }
}

using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

using Provisioning.Emulator.Protocol;

namespace Provisioning.Emulator.Device;

/// <summary>Reads the PKCS#10 request a device sends for certificate issuance, turning every malformed input into a problem
/// text for a 400 (never an exception).</summary>
/// <remarks>dps-protocol.md §9 (2025-07-01-preview <c>csr</c>): the request's common name must be the registration id.</remarks>
internal static class CsrReader
{
    private const string CommonNameOid = "2.5.4.3";

    /// <summary>Reads a base64 DER PKCS#10 request whose signature verifies and whose CN is the registration id.</summary>
    public static bool TryRead(string base64, string registrationId, out CertificateRequest? request, out string problem)
        => TryRead(base64, registrationId, out request, out _, out problem);

    /// <summary>As <see cref="TryRead(string, string, out CertificateRequest?, out string)"/>, also giving the error code of
    /// the refusal: <see cref="DpsErrorCodes.MalformedRequest"/> (not base64 DER PKCS#10, malformed subject),
    /// <see cref="DpsErrorCodes.CsrSignatureInvalid"/>, <see cref="DpsErrorCodes.CsrKeyRejected"/> (not RSA ≥ 2048 bits or
    /// ECDSA on P-256/P-384/P-521), <see cref="DpsErrorCodes.CsrCommonNameMismatch"/>.</summary>
    public static bool TryRead(string base64, string registrationId, out CertificateRequest? request, out int errorCode, out string problem)
    {
        request = null;
        problem = "";
        errorCode = DpsErrorCodes.MalformedRequest;
        byte[] der;
        try
        {
            der = Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            problem = "The csr is not a base64 DER PKCS#10 request.";
            return false;
        }

        // Loaded once, its signature verified, on the way every good request takes; only a refusal loads it a second time
        // without the signature check, to say whether its key or its signature is at fault (a weak key is named first).
        CertificateRequest? loaded = Load(der, verify: true);
        var unverified = loaded ?? Load(der, verify: false);
        if (unverified is null)
        {
            problem = "The csr is not a base64 DER PKCS#10 request.";
            return false;
        }

        if (KeyProblem(unverified.PublicKey) is { } weak)
        {
            errorCode = DpsErrorCodes.CsrKeyRejected;
            problem = weak;
            return false;
        }

        if (loaded is null)
        {
            errorCode = DpsErrorCodes.CsrSignatureInvalid;
            problem = "The csr's signature does not verify with its public key.";
            return false;
        }

        if (!TryGetCommonName(loaded.SubjectName, out var commonName))
        {
            problem = "The csr's subject is malformed or puts its common name in a multi-valued RDN.";
            return false;
        }

        if (!string.Equals(commonName, registrationId, StringComparison.OrdinalIgnoreCase))
        {
            errorCode = DpsErrorCodes.CsrCommonNameMismatch;
            problem = "The csr's common name must be the registration id.";
            return false;
        }

        request = loaded;
        return true;
    }

    /// <summary>The request in <paramref name="der"/>, its signature verified when <paramref name="verify"/>; null when it does
    /// not load (not DER PKCS#10, a key algorithm or curve this platform does not know, e.g. a mutated OID, or, verifying, a
    /// signature that does not verify).</summary>
    private static CertificateRequest? Load(byte[] der, bool verify)
    {
        try
        {
            return CertificateRequest.LoadSigningRequest(der, HashAlgorithmName.SHA256,
                verify ? CertificateRequestLoadOptions.Default : CertificateRequestLoadOptions.SkipSignatureValidation);
        }
        catch (Exception ex) when (ex is CryptographicException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Why a public key is too weak to certify, or null: RSA under 2048 bits, or ECDSA off P-256/P-384/P-521.</summary>
    private static string? KeyProblem(PublicKey key)
    {
        try
        {
            using var rsa = key.GetRSAPublicKey();
            if (rsa is not null)
            {
                return rsa.KeySize >= 2048 ? null : $"The csr's RSA key has {rsa.KeySize} bits; at least 2048 are required.";
            }

            using var ecdsa = key.GetECDsaPublicKey();
            if (ecdsa is not null)
            {
                var curve = ecdsa.ExportParameters(false).Curve;
                return curve.IsNamed && curve.Oid.Value is "1.2.840.10045.3.1.7" or "1.3.132.0.34" or "1.3.132.0.35"
                    ? null
                    : "The csr's ECDSA key is not on P-256, P-384 or P-521.";
            }
        }
        catch (Exception ex) when (ex is CryptographicException or NotSupportedException)
        {
            // A key this platform cannot import (an unknown algorithm or curve OID) is refused like any other unusable key.
            return "The csr's key is neither RSA nor ECDSA on a NIST curve.";
        }

        return "The csr's key is neither RSA nor ECDSA on a NIST curve.";
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

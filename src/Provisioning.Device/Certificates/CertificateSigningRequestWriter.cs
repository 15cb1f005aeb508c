using System.Formats.Asn1;
using System.Security.Cryptography;

namespace Provisioning.Device;

/// <summary>Writes a PKCS#10 certificate signing request (RFC 2986) whose signature comes from a
/// <see cref="CertificateSigningKey"/>, asynchronously, so a TPM can sign it.</summary>
/// <remarks>dps-protocol.md §9: DER, subject <c>CN={registrationId}</c>, no attributes. ECDSA uses ecdsa-with-SHA256
/// (1.2.840.10045.4.3.2, absent parameters, RFC 5758), RSA sha256WithRSAEncryption (1.2.840.113549.1.1.11, NULL parameters).</remarks>
internal static class CertificateSigningRequestWriter
{
    internal const string CommonNameOid = "2.5.4.3";
    internal const string EcdsaWithSha256Oid = "1.2.840.10045.4.3.2";
    internal const string Sha256WithRsaOid = "1.2.840.113549.1.1.11";

    public static async ValueTask<byte[]> WriteAsync(CertificateSigningKey key, string commonName, CancellationToken cancellationToken)
    {
        var info = new AsnWriter(AsnEncodingRules.DER);
        using (info.PushSequence())
        {
            info.WriteInteger(0);
            WriteCommonName(info, commonName);
            info.WriteEncodedValue(key.SubjectPublicKeyInfo.Span);
            using (info.PushSetOf(new Asn1Tag(TagClass.ContextSpecific, 0)))
            {
                // attributes [0] IMPLICIT SET OF Attribute: none.
            }
        }

        byte[] infoBytes = info.Encode();
        byte[] digest = SHA256.HashData(infoBytes);
        byte[] signature = await key.SignHashAsync(digest, cancellationToken).ConfigureAwait(false);
        bool ecc = key.Algorithm == CertificateKeyAlgorithm.EccP256;
        if (ecc && signature.Length != 64)
        {
            throw new CryptographicException($"The key returned a {signature.Length}-byte P-256 signature; r ‖ s has 64.");
        }

        var request = new AsnWriter(AsnEncodingRules.DER);
        using (request.PushSequence())
        {
            request.WriteEncodedValue(infoBytes);
            using (request.PushSequence())
            {
                request.WriteObjectIdentifier(ecc ? EcdsaWithSha256Oid : Sha256WithRsaOid);
                if (!ecc)
                {
                    request.WriteNull();
                }
            }

            request.WriteBitString(ecc ? EcdsaDer(signature) : signature);
        }

        return request.Encode();
    }

    /// <summary>The Name <c>CN={value}</c>: one RDN holding one UTF8String, whatever characters the value has.</summary>
    internal static void WriteCommonName(AsnWriter writer, string value)
    {
        using (writer.PushSequence())
        using (writer.PushSetOf())
        using (writer.PushSequence())
        {
            writer.WriteObjectIdentifier(CommonNameOid);
            writer.WriteCharacterString(UniversalTagNumber.UTF8String, value);
        }
    }

    /// <summary>Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } from r ‖ s.</summary>
    internal static byte[] EcdsaDer(ReadOnlySpan<byte> p1363)
    {
        int half = p1363.Length / 2;
        var writer = new AsnWriter(AsnEncodingRules.DER);
        using (writer.PushSequence())
        {
            writer.WriteIntegerUnsigned(TrimLeadingZeros(p1363[..half]));
            writer.WriteIntegerUnsigned(TrimLeadingZeros(p1363[half..]));
        }

        return writer.Encode();
    }

    private static ReadOnlySpan<byte> TrimLeadingZeros(ReadOnlySpan<byte> value)
    {
        int i = 0;
        while (i < value.Length - 1 && value[i] == 0)
        {
            i++;
        }

        return value[i..];
    }
}

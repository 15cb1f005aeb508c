using System.Security.Cryptography;

namespace Provisioning.Emulator.Tpm;

/// <summary>Which of the device's two storage keys a public area claims to be.</summary>
internal enum TpmDeviceKeyRole
{
    /// <summary>The endorsement key (TCG EK template).</summary>
    Endorsement,

    /// <summary>The storage root key (SRK template).</summary>
    StorageRoot,
}

/// <summary>
/// A device's EK or SRK, parsed from its TPM2B_PUBLIC and checked against its template: what the issuer needs
/// (modulus, exponent, TPM name) and nothing else.
/// </summary>
/// <remarks>
/// dps-protocol.md §2.1 (templates) and §2.2 (wire encoding); TPM 2.0 Part 2 §12.2.4 (TPMT_PUBLIC), Part 1 §16 (names).
/// Every check names the key, the field and what was expected, because the message becomes the DPS 400 reason.
/// </remarks>
internal sealed class TpmDeviceKey
{
    private TpmDeviceKey(byte[] modulus, uint exponent, byte[] name)
    {
        Modulus = modulus;
        Exponent = exponent;
        Name = name;
    }

    /// <summary>The 256-byte big-endian RSA modulus.</summary>
    public byte[] Modulus { get; }

    /// <summary>The public exponent (65537 when the area says 0).</summary>
    public uint Exponent { get; }

    /// <summary>The TPM name: nameAlg (0x000B) followed by SHA-256 of the TPMT_PUBLIC.</summary>
    public byte[] Name { get; }

    /// <summary>Parses and validates a TPM2B_PUBLIC (size prefix included) as the given key.</summary>
    /// <exception cref="TpmAttestationRejectedException">The bytes are malformed or not the template's key.</exception>
    public static TpmDeviceKey Parse(ReadOnlySpan<byte> tpm2bPublic, TpmDeviceKeyRole role)
    {
        var subject = role == TpmDeviceKeyRole.Endorsement ? "The EK" : "The SRK";
        var reader = new TpmWireReader(tpm2bPublic, subject);
        var size = reader.ReadUInt16("TPM2B_PUBLIC size");
        if (size != reader.Remaining)
        {
            throw new TpmAttestationRejectedException(
                $"{subject}: TPM2B_PUBLIC size field says {size} byte(s) but {reader.Remaining} follow it.");
        }

        var publicArea = tpm2bPublic[reader.Position..];
        Expect(subject, "type", reader.ReadUInt16("type"), TpmConstants.AlgRsa, "TPM_ALG_RSA");
        Expect(subject, "nameAlg", reader.ReadUInt16("nameAlg"), TpmConstants.AlgSha256, "TPM_ALG_SHA256");

        var attributes = reader.ReadUInt32("objectAttributes");
        var expectedAttributes = role == TpmDeviceKeyRole.Endorsement ? TpmConstants.EkAttributes : TpmConstants.SrkAttributes;
        if (attributes != expectedAttributes)
        {
            var template = role == TpmDeviceKeyRole.Endorsement
                ? "fixedTPM|fixedParent|sensitiveDataOrigin|adminWithPolicy|restricted|decrypt of the TCG EK template"
                : "fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|noDA|restricted|decrypt of the SRK template";
            throw new TpmAttestationRejectedException(
                $"{subject}: objectAttributes are 0x{attributes:X8}; expected 0x{expectedAttributes:X8} ({template}).");
        }

        var policy = reader.ReadSized("authPolicy");
        if (role == TpmDeviceKeyRole.Endorsement)
        {
            if (!policy.SequenceEqual(TpmConstants.EkAuthPolicy))
            {
                throw new TpmAttestationRejectedException(
                    $"{subject}: authPolicy ({policy.Length} byte(s)) is not the TCG EK policy PolicySecret(TPM_RH_ENDORSEMENT) "
                    + $"{Convert.ToHexStringLower(TpmConstants.EkAuthPolicy)}.");
            }
        }
        else if (policy.Length != 0)
        {
            throw new TpmAttestationRejectedException(
                $"{subject}: authPolicy has {policy.Length} byte(s); the SRK template has an empty authPolicy.");
        }

        Expect(subject, "symmetric.algorithm", reader.ReadUInt16("symmetric.algorithm"), TpmConstants.AlgAes, "TPM_ALG_AES");
        Expect(subject, "symmetric.keyBits", reader.ReadUInt16("symmetric.keyBits"), 128, "128");
        Expect(subject, "symmetric.mode", reader.ReadUInt16("symmetric.mode"), TpmConstants.AlgCfb, "TPM_ALG_CFB");
        Expect(subject, "scheme", reader.ReadUInt16("scheme"), TpmConstants.AlgNull, "TPM_ALG_NULL");
        Expect(subject, "keyBits", reader.ReadUInt16("keyBits"), 2048, "2048");

        var exponent = reader.ReadUInt32("exponent");
        if (exponent != 0 && exponent != TpmConstants.RsaDefaultExponent)
        {
            throw new TpmAttestationRejectedException(
                $"{subject}: exponent is {exponent}; expected 0 or 65537.");
        }

        var modulus = reader.ReadSized("unique (modulus)");
        if (modulus.Length != TpmConstants.Rsa2048ModulusSize)
        {
            throw new TpmAttestationRejectedException(
                $"{subject}: modulus is {modulus.Length} byte(s); expected {TpmConstants.Rsa2048ModulusSize} (RSA-2048).");
        }

        // A real 2048-bit modulus is odd and has its top bit set; anything else cannot be the device's key.
        if ((modulus[0] & 0x80) == 0 || (modulus[^1] & 1) == 0)
        {
            throw new TpmAttestationRejectedException(
                $"{subject}: modulus is not an odd 2048-bit number.");
        }

        reader.EnsureEnd("TPMT_PUBLIC");
        return new TpmDeviceKey(modulus.ToArray(), exponent == 0 ? TpmConstants.RsaDefaultExponent : exponent, ComputeName(publicArea));
    }

    /// <summary>The TPM name of a public area: nameAlg (SHA-256) followed by its digest.</summary>
    /// <remarks>TPM 2.0 Part 1 §16: Name = nameAlg || H_nameAlg(TPMT_PUBLIC), without the TPM2B size.</remarks>
    public static byte[] ComputeName(ReadOnlySpan<byte> tpmtPublic)
    {
        var name = new byte[2 + TpmConstants.Sha256Size];
        name[0] = (byte)(TpmConstants.AlgSha256 >> 8);
        name[1] = (byte)TpmConstants.AlgSha256;
        SHA256.HashData(tpmtPublic, name.AsSpan(2));
        return name;
    }

    private static void Expect(string subject, string field, uint actual, uint expected, string expectedName)
    {
        if (actual != expected)
        {
            throw new TpmAttestationRejectedException(
                $"{subject}: {field} is 0x{actual:X4}; expected 0x{expected:X4} ({expectedName}).");
        }
    }
}

using System.Security.Cryptography;

namespace Provisioning.Emulator.Tpm;

/// <summary>The outer protection MakeCredential and Duplicate share: a seed only the recipient's TPM can decrypt, AES-128-CFB
/// under a key derived from it, and an HMAC over the ciphertext and the protected object's name.</summary>
/// <remarks>
/// TPM 2.0 Part 1 §23.3 (duplication, outer wrapper) and §24 (credential protection) use the same construction:
/// seed RSA-OAEP-encrypted to the recipient with a label ("IDENTITY" or "DUPLICATE");
/// symKey = KDFa(seed, "STORAGE", Name, ∅, 128) encrypts the plaintext in AES-128-CFB (zero IV);
/// HMACkey = KDFa(seed, "INTEGRITY", ∅, ∅, 256) authenticates encrypted || Name.
/// Written as size || TPM2B_DIGEST(HMAC) || encrypted (TPM2B_ID_OBJECT, or TPM2B_PRIVATE), then TPM2B_ENCRYPTED_SECRET.
/// </remarks>
internal static class TpmOuterWrap
{
    /// <summary>Random bytes one wrap consumes: the seed, then the OAEP seed.</summary>
    public const int RandomSize = 2 * TpmConstants.Sha256Size;

    /// <summary>Size of the protected TPM2B for <paramref name="plaintextLength"/> bytes: size, HMAC TPM2B_DIGEST, ciphertext.</summary>
    public static int ProtectedSize(int plaintextLength) => 2 + (2 + TpmConstants.Sha256Size) + plaintextLength;

    /// <summary>Writes the protected TPM2B then TPM2B_ENCRYPTED_SECRET for <paramref name="recipient"/>.</summary>
    /// <param name="recipient">The key whose TPM can recover the seed (the EK for a credential, the new parent for a duplicate).</param>
    /// <param name="label">The OAEP label, NUL included.</param>
    /// <param name="objectName">The name the protection is bound to.</param>
    /// <param name="plaintext">What to protect.</param>
    /// <param name="random"><see cref="RandomSize"/> random bytes.</param>
    /// <param name="writer">Receives both structures.</param>
    public static void Write(
        TpmDeviceKey recipient,
        scoped ReadOnlySpan<byte> label,
        scoped ReadOnlySpan<byte> objectName,
        scoped ReadOnlySpan<byte> plaintext,
        scoped ReadOnlySpan<byte> random,
        ref TpmWireWriter writer)
    {
        if (random.Length != RandomSize)
        {
            throw new ArgumentException("An outer wrap takes 64 random bytes.", nameof(random));
        }

        var seed = random[..TpmConstants.Sha256Size];
        Span<byte> symKey = stackalloc byte[TpmConstants.Aes128KeySize];
        Span<byte> hmacKey = stackalloc byte[TpmConstants.Sha256Size];
        try
        {
            writer.WriteUInt16(ProtectedSize(plaintext.Length) - 2);
            writer.WriteUInt16(TpmConstants.Sha256Size);
            var integrity = writer.Advance(TpmConstants.Sha256Size);
            var encrypted = writer.Advance(plaintext.Length);

            TpmKdf.KdfA(seed, "STORAGE", objectName, default, symKey);
            TpmAesCfb.Encrypt(symKey, plaintext, encrypted);
            TpmKdf.KdfA(seed, "INTEGRITY", default, default, hmacKey);
            using (var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, hmacKey))
            {
                hmac.AppendData(encrypted);
                hmac.AppendData(objectName);
                hmac.GetHashAndReset(integrity);
            }

            writer.WriteUInt16(TpmConstants.Rsa2048ModulusSize);
            TpmRsaOaep.Encrypt(recipient.Modulus, recipient.Exponent, label, seed, random[TpmConstants.Sha256Size..],
                writer.Advance(TpmConstants.Rsa2048ModulusSize));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(symKey);
            CryptographicOperations.ZeroMemory(hmacKey);
        }
    }
}

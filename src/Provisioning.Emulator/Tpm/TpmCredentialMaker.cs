using System.Security.Cryptography;

namespace Provisioning.Emulator.Tpm;

/// <summary>TPM2_MakeCredential done in software: a credential only the EK's TPM can release, bound to a key's name.</summary>
/// <remarks>
/// TPM 2.0 Part 1 §24 (Credential Protection): seed RSA-OAEP-encrypted to the EK with label "IDENTITY";
/// symKey = KDFa(seed, "STORAGE", Name, ∅, 128) encrypts the TPM2B_DIGEST credential in AES-128-CFB (zero IV);
/// HMACkey = KDFa(seed, "INTEGRITY", ∅, ∅, 256) authenticates encIdentity || Name. Part 2 §10.6.2 (TPM2B_ID_OBJECT).
/// </remarks>
internal static class TpmCredentialMaker
{
    /// <summary>Size of the credential this service wraps: the 16-byte AES-128 inner wrap key.</summary>
    public const int CredentialSize = TpmConstants.Aes128KeySize;

    /// <summary>TPM2B_ID_OBJECT size for a 16-byte credential: size + TPM2B_DIGEST(32) + encrypted TPM2B(16).</summary>
    public const int IdObjectSize = 2 + (2 + TpmConstants.Sha256Size) + (2 + CredentialSize);

    /// <summary>TPM2B_ENCRYPTED_SECRET size under an RSA-2048 key.</summary>
    public const int EncryptedSecretSize = 2 + TpmConstants.Rsa2048ModulusSize;

    /// <summary>Random bytes MakeCredential consumes: the seed, then the OAEP seed.</summary>
    public const int RandomSize = 2 * TpmConstants.Sha256Size;

    /// <summary>Writes TPM2B_ID_OBJECT then TPM2B_ENCRYPTED_SECRET.</summary>
    /// <param name="ek">The key whose TPM can open the credential.</param>
    /// <param name="objectName">The name the credential is bound to (the SRK's).</param>
    /// <param name="credential">The 16-byte secret.</param>
    /// <param name="random"><see cref="RandomSize"/> random bytes.</param>
    /// <param name="writer">Receives both structures.</param>
    public static void Make(
        TpmDeviceKey ek,
        scoped ReadOnlySpan<byte> objectName,
        scoped ReadOnlySpan<byte> credential,
        scoped ReadOnlySpan<byte> random,
        ref TpmWireWriter writer)
    {
        if (credential.Length != CredentialSize || random.Length != RandomSize)
        {
            throw new ArgumentException("MakeCredential takes a 16-byte credential and 64 random bytes.", nameof(credential));
        }

        var seed = random[..TpmConstants.Sha256Size];
        Span<byte> symKey = stackalloc byte[TpmConstants.Aes128KeySize];
        Span<byte> hmacKey = stackalloc byte[TpmConstants.Sha256Size];
        Span<byte> plain = stackalloc byte[2 + CredentialSize];
        try
        {
            var plainWriter = new TpmWireWriter(plain);
            plainWriter.WriteSized(credential);

            writer.WriteUInt16(IdObjectSize - 2);
            writer.WriteUInt16(TpmConstants.Sha256Size);
            var integrity = writer.Advance(TpmConstants.Sha256Size);
            var encIdentity = writer.Advance(plain.Length);

            TpmKdf.KdfA(seed, "STORAGE", objectName, default, symKey);
            TpmAesCfb.Encrypt(symKey, plain, encIdentity);
            TpmKdf.KdfA(seed, "INTEGRITY", default, default, hmacKey);
            using (var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, hmacKey))
            {
                hmac.AppendData(encIdentity);
                hmac.AppendData(objectName);
                hmac.GetHashAndReset(integrity);
            }

            writer.WriteUInt16(TpmConstants.Rsa2048ModulusSize);
            TpmRsaOaep.Encrypt(ek.Modulus, ek.Exponent, "IDENTITY\0"u8, seed, random[TpmConstants.Sha256Size..], writer.Advance(TpmConstants.Rsa2048ModulusSize));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(symKey);
            CryptographicOperations.ZeroMemory(hmacKey);
            CryptographicOperations.ZeroMemory(plain);
        }
    }
}

using System.Security.Cryptography;

namespace Provisioning.Emulator.Tpm;

/// <summary>TPM2_MakeCredential done in software: a credential only the EK's TPM can release, bound to a key's name.</summary>
/// <remarks>
/// TPM 2.0 Part 1 §24 (Credential Protection): the TPM2B_DIGEST credential under the <see cref="TpmOuterWrap"/> to the EK with
/// label "IDENTITY". Part 2 §10.6.2 (TPM2B_ID_OBJECT).
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
    public const int RandomSize = TpmOuterWrap.RandomSize;

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

        Span<byte> plain = stackalloc byte[2 + CredentialSize];
        try
        {
            var plainWriter = new TpmWireWriter(plain);
            plainWriter.WriteSized(credential);
            TpmOuterWrap.Write(ek, "IDENTITY\0"u8, objectName, plain, random, ref writer);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }
}

using System.Security.Cryptography;

namespace Provisioning.Emulator.Tpm;

/// <summary>TPM2_Duplicate done in software: wraps a sensitive area for a new parent with an inner and an outer wrapper.</summary>
/// <remarks>
/// TPM 2.0 Part 1 §23.3 (Protected storage, duplication):
/// inner wrapper: AES-128-CFB (zero IV) under the caller's key over TPM2B_DIGEST(H(TPM2B_SENSITIVE || Name)) || TPM2B_SENSITIVE;
/// outer wrapper: the <see cref="TpmOuterWrap"/> to the new parent with label "DUPLICATE" over the inner result.
/// Result: TPM2B_PRIVATE (outer HMAC TPM2B_DIGEST, then the encrypted bytes) and TPM2B_ENCRYPTED_SECRET.
/// </remarks>
internal static class TpmDuplicator
{
    /// <summary>Random bytes duplication consumes: the outer seed, then the OAEP seed.</summary>
    public const int RandomSize = TpmOuterWrap.RandomSize;

    /// <summary>Writes TPM2B_PRIVATE then TPM2B_ENCRYPTED_SECRET for <paramref name="newParent"/>.</summary>
    /// <param name="newParent">The parent the object is imported under (the SRK).</param>
    /// <param name="objectName">Name of the duplicated object.</param>
    /// <param name="sensitiveArea">Its TPMT_SENSITIVE, without size prefix.</param>
    /// <param name="innerKey">The 16-byte AES-128 inner wrapper key.</param>
    /// <param name="random"><see cref="RandomSize"/> random bytes.</param>
    /// <param name="writer">Receives both structures.</param>
    public static void Duplicate(
        TpmDeviceKey newParent,
        scoped ReadOnlySpan<byte> objectName,
        scoped ReadOnlySpan<byte> sensitiveArea,
        scoped ReadOnlySpan<byte> innerKey,
        scoped ReadOnlySpan<byte> random,
        ref TpmWireWriter writer)
    {
        if (innerKey.Length != TpmConstants.Aes128KeySize || random.Length != RandomSize)
        {
            throw new ArgumentException("Duplication takes a 16-byte inner key and 64 random bytes.", nameof(innerKey));
        }

        var wrappedSize = (2 + TpmConstants.Sha256Size) + (2 + sensitiveArea.Length);
        var inner = new byte[wrappedSize];
        try
        {
            // Inner wrapper: integrity digest over the TPM2B_SENSITIVE (size included) and the name, then encrypt both.
            var innerWriter = new TpmWireWriter(inner);
            innerWriter.WriteUInt16(TpmConstants.Sha256Size);
            var innerIntegrity = innerWriter.Advance(TpmConstants.Sha256Size);
            var sensitiveStart = innerWriter.Position;
            innerWriter.WriteSized(sensitiveArea);
            using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                hash.AppendData(inner.AsSpan(sensitiveStart));
                hash.AppendData(objectName);
                hash.GetHashAndReset(innerIntegrity);
            }

            TpmAesCfb.Encrypt(innerKey, inner, inner);

            // Outer wrapper under a seed only the new parent can decrypt.
            TpmOuterWrap.Write(newParent, "DUPLICATE\0"u8, objectName, inner, random, ref writer);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(inner);
        }
    }
}

using System.Security.Cryptography;

namespace Provisioning.Emulator.Tpm;

/// <summary>The public and sensitive areas of the HMAC-SHA-256 identity key the device imports.</summary>
/// <remarks>
/// dps-protocol.md §2.3: a duplicable KEYEDHASH key (sign|userWithAuth, no policy, HMAC-SHA-256 scheme) that
/// TPM2_HMAC accepts. TPM 2.0 Part 2 §12.2.4 (TPMT_PUBLIC), §12.3.2.4 (TPMT_SENSITIVE); Part 1 §27.2.4 and the
/// reference CryptComputeSymmetricUnique: unique = H_nameAlg(seedValue || key) for a KEYEDHASH object.
/// </remarks>
internal static class TpmIdentityKeyObject
{
    /// <summary>The identity key length: one SHA-256 block's worth of HMAC key.</summary>
    public const int KeySize = TpmConstants.Sha256Size;

    /// <summary>TPMT_PUBLIC length: type, nameAlg, attributes, empty policy, scheme + hash, TPM2B unique.</summary>
    public const int PublicAreaSize = 2 + 2 + 4 + 2 + 2 + 2 + 2 + TpmConstants.Sha256Size;

    /// <summary>TPMT_SENSITIVE length: type, empty authValue, seedValue, key bits.</summary>
    public const int SensitiveAreaSize = 2 + 2 + (2 + TpmConstants.Sha256Size) + (2 + KeySize);

    /// <summary>Writes the TPMT_PUBLIC (no size prefix) for a key with this seed value.</summary>
    public static void WritePublicArea(scoped ReadOnlySpan<byte> seedValue, scoped ReadOnlySpan<byte> key, ref TpmWireWriter writer)
    {
        writer.WriteUInt16(TpmConstants.AlgKeyedHash);
        writer.WriteUInt16(TpmConstants.AlgSha256);
        writer.WriteUInt32(TpmConstants.IdentityKeyAttributes);
        writer.WriteUInt16(0);                     // authPolicy: none
        writer.WriteUInt16(TpmConstants.AlgHmac);  // TPMT_KEYEDHASH_SCHEME
        writer.WriteUInt16(TpmConstants.AlgSha256);
        writer.WriteUInt16(TpmConstants.Sha256Size);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(seedValue);
        hash.AppendData(key);
        hash.GetHashAndReset(writer.Advance(TpmConstants.Sha256Size));
    }

    /// <summary>Writes the TPMT_SENSITIVE (no size prefix): empty authValue, the seed value and the key.</summary>
    public static void WriteSensitiveArea(scoped ReadOnlySpan<byte> seedValue, scoped ReadOnlySpan<byte> key, ref TpmWireWriter writer)
    {
        writer.WriteUInt16(TpmConstants.AlgKeyedHash);
        writer.WriteUInt16(0);                     // authValue: empty
        writer.WriteSized(seedValue);
        writer.WriteSized(key);
    }
}

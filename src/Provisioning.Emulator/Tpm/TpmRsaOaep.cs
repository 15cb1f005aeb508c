using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;

namespace Provisioning.Emulator.Tpm;

/// <summary>RSA-OAEP-SHA-256 encryption with a label, as the TPM uses to protect credential and import seeds.</summary>
/// <remarks>
/// RFC 8017 §7.1.1 (EME-OAEP, MGF1-SHA-256) with the TPM's labels, NUL included (TPM 2.0 Part 1 Annex B.10: "IDENTITY",
/// "DUPLICATE"). .NET's OAEP has no label parameter, so the encoding is done here and the public-key operation with
/// <see cref="BigInteger.ModPow"/>. The encoded block passes through <see cref="BigInteger"/>, whose buffers cannot be
/// zeroed; it holds only a seed used for this one blob.
/// </remarks>
internal static class TpmRsaOaep
{
    private const int HashLength = TpmConstants.Sha256Size;

    /// <summary>Encrypts <paramref name="message"/> to the key; <paramref name="destination"/> is the modulus length.</summary>
    /// <param name="modulus">Big-endian modulus.</param>
    /// <param name="exponent">Public exponent.</param>
    /// <param name="label">The OAEP label, the TPM's terminating NUL included (e.g. <c>"IDENTITY\0"u8</c>).</param>
    /// <param name="message">The secret to encrypt.</param>
    /// <param name="oaepSeed">hLen random bytes for the encoding.</param>
    /// <param name="destination">Receives the ciphertext, exactly the modulus length.</param>
    public static void Encrypt(
        ReadOnlySpan<byte> modulus,
        uint exponent,
        ReadOnlySpan<byte> label,
        ReadOnlySpan<byte> message,
        ReadOnlySpan<byte> oaepSeed,
        Span<byte> destination)
    {
        var k = modulus.Length;
        if (destination.Length != k || oaepSeed.Length != HashLength || message.Length > k - (2 * HashLength) - 2)
        {
            throw new ArgumentException("OAEP sizes do not fit the modulus.", nameof(message));
        }

        var encoded = new byte[k];
        try
        {
            Encode(label, message, oaepSeed, encoded);
            var m = new BigInteger(encoded, isUnsigned: true, isBigEndian: true);
            var n = new BigInteger(modulus, isUnsigned: true, isBigEndian: true);
            var c = BigInteger.ModPow(m, exponent, n);
            destination.Clear();
            var length = c.GetByteCount(isUnsigned: true);
            if (!c.TryWriteBytes(destination[(k - length)..], out _, isUnsigned: true, isBigEndian: true))
            {
                throw new InvalidOperationException("RSA result does not fit the modulus length.");
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(encoded);
        }
    }

    /// <summary>EME-OAEP encoding: 0x00 || maskedSeed || maskedDB, DB = lHash || PS || 0x01 || M.</summary>
    internal static void Encode(ReadOnlySpan<byte> label, ReadOnlySpan<byte> message, ReadOnlySpan<byte> oaepSeed, Span<byte> encoded)
    {
        encoded.Clear();
        var seed = encoded.Slice(1, HashLength);
        var db = encoded[(1 + HashLength)..];

        SHA256.HashData(label, db[..HashLength]);
        db[db.Length - message.Length - 1] = 0x01;
        message.CopyTo(db[(db.Length - message.Length)..]);
        oaepSeed.CopyTo(seed);

        XorMask(seed, db);   // maskedDB = DB xor MGF1(seed)
        XorMask(db, seed);   // maskedSeed = seed xor MGF1(maskedDB)
    }

    /// <summary>target ^= MGF1-SHA-256(mgfSeed, target.Length).</summary>
    private static void XorMask(ReadOnlySpan<byte> mgfSeed, Span<byte> target)
    {
        Span<byte> counter = stackalloc byte[sizeof(uint)];
        Span<byte> block = stackalloc byte[HashLength];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (uint i = 0, offset = 0; offset < target.Length; i++, offset += HashLength)
        {
            BinaryPrimitives.WriteUInt32BigEndian(counter, i);
            hash.AppendData(mgfSeed);
            hash.AppendData(counter);
            hash.GetHashAndReset(block);
            var chunk = target[(int)offset..];
            for (var j = 0; j < Math.Min(HashLength, chunk.Length); j++)
            {
                chunk[j] ^= block[j];
            }
        }

        CryptographicOperations.ZeroMemory(block);
    }
}

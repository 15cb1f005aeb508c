using System.Numerics;
using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>An RSA-2048 private key of the software TPM and the two operations a TPM storage key needs: the raw private
/// operation and OAEP decoding with a label.</summary>
/// <remarks>
/// TPM 2.0 Library Part 1, §11.4.9 / Annex B.10.3 and RFC 8017 §7.1.2 (RSAES-OAEP-DECRYPT with SHA-256 and MGF1-SHA-256).
/// The TPM's labels (<c>IDENTITY\0</c>, <c>DUPLICATE\0</c>) cannot be passed to .NET's OAEP, so the private operation is done here
/// with <see cref="BigInteger.ModPow(BigInteger, BigInteger, BigInteger)"/> and the CRT. That is not constant-time: fine for a
/// test and development TPM whose keys live in a file anyway, not for guarding secrets from a local timing attacker. The padding
/// check itself runs without early exits so that the error does not say which part of the padding was wrong.
/// </remarks>
internal sealed class SoftwareTpmRsaKey
{
    public const int ModulusSize = 256;

    private readonly RSAParameters _parameters;

    private SoftwareTpmRsaKey(RSAParameters parameters)
    {
        if (parameters.Modulus is not { Length: ModulusSize } || parameters.P is null || parameters.Q is null
            || parameters.DP is null || parameters.DQ is null || parameters.InverseQ is null)
        {
            throw new ArgumentException("An RSA-2048 private key with CRT parameters is needed.", nameof(parameters));
        }

        _parameters = parameters;
    }

    public ReadOnlySpan<byte> Modulus => _parameters.Modulus;

    /// <summary>Generates a fresh key (public exponent 65537, as the TPM templates' exponent 0 means).</summary>
    public static SoftwareTpmRsaKey Generate()
    {
        using var rsa = RSA.Create(2048);
        return new SoftwareTpmRsaKey(rsa.ExportParameters(includePrivateParameters: true));
    }

    /// <summary>Reads a key written by <see cref="Export"/> (PKCS#1 RSAPrivateKey DER).</summary>
    public static SoftwareTpmRsaKey Import(ReadOnlySpan<byte> pkcs1)
    {
        using var rsa = RSA.Create();
        rsa.ImportRSAPrivateKey(pkcs1, out var read);
        if (read != pkcs1.Length || rsa.KeySize != 2048)
        {
            throw new CryptographicException("The stored key is not a single RSA-2048 private key.");
        }

        return new SoftwareTpmRsaKey(rsa.ExportParameters(includePrivateParameters: true));
    }

    /// <summary>The PKCS#1 RSAPrivateKey DER (the caller zeroes it once stored).</summary>
    public byte[] Export()
    {
        using var rsa = RSA.Create(_parameters);
        return rsa.ExportRSAPrivateKey();
    }

    /// <summary>Decrypts a TPM2B_ENCRYPTED_SECRET made with RSAES-OAEP-SHA256 and <paramref name="label"/>.</summary>
    /// <returns>The seed, or null when the ciphertext is not a valid OAEP encoding (TPM_RC_VALUE).</returns>
    /// <exception cref="SoftwareTpmFault">Wrong ciphertext size or value not below the modulus: TPM_RC_SIZE (no position).</exception>
    public byte[]? DecryptOaep(ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> label)
    {
        if (ciphertext.Length != ModulusSize || ciphertext.SequenceCompareTo(Modulus) >= 0)
        {
            throw new SoftwareTpmFault(TpmResponseCode.Size);
        }

        var em = new byte[ModulusSize];
        try
        {
            PrivateOperation(ciphertext, em);
            return OaepDecode(em, label);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(em);
        }
    }

    private void PrivateOperation(ReadOnlySpan<byte> input, Span<byte> output)
    {
        static BigInteger Big(ReadOnlySpan<byte> b) => new(b, isUnsigned: true, isBigEndian: true);
        var c = Big(input);
        var p = Big(_parameters.P);
        var q = Big(_parameters.Q);
        var m1 = BigInteger.ModPow(c, Big(_parameters.DP), p);
        var m2 = BigInteger.ModPow(c, Big(_parameters.DQ), q);
        var h = Big(_parameters.InverseQ) * (m1 - m2) % p;
        if (h.Sign < 0)
        {
            h += p;
        }

        var m = m2 + (h * q);
        output.Clear();
        var length = m.GetByteCount(isUnsigned: true);
        if (!m.TryWriteBytes(output[(output.Length - length)..], out _, isUnsigned: true, isBigEndian: true))
        {
            throw new CryptographicException("The RSA result does not fit the modulus.");
        }
    }

    private static byte[]? OaepDecode(ReadOnlySpan<byte> em, ReadOnlySpan<byte> label)
    {
        const int hLen = SHA256.HashSizeInBytes;
        var db = new byte[em.Length - 1 - hLen];
        Span<byte> seed = stackalloc byte[hLen];
        Span<byte> labelHash = stackalloc byte[hLen];
        try
        {
            SHA256.HashData(label, labelHash);
            em.Slice(1, hLen).CopyTo(seed);
            em[(1 + hLen)..].CopyTo(db);
            XorMask(seed, db);   // seed ^= MGF1(maskedDB)
            XorMask(db, seed);   // DB ^= MGF1(seed)

            // DB = lHash' ‖ PS (zeros) ‖ 01 ‖ M: accumulate every check, branch once.
            var bad = em[0];
            for (var i = 0; i < hLen; i++)
            {
                bad |= (byte)(db[i] ^ labelHash[i]);
            }

            var separator = -1;
            var invalidPadding = 0;
            for (var i = hLen; i < db.Length; i++)
            {
                var searching = separator < 0 ? 1 : 0;
                var isOne = db[i] == 1 ? 1 : 0;
                var isZero = db[i] == 0 ? 1 : 0;
                invalidPadding |= searching & (1 - isOne) & (1 - isZero);
                separator = (searching & isOne) == 1 ? i : separator;
            }

            if (bad != 0 || invalidPadding != 0 || separator < 0)
            {
                return null;
            }

            return db.AsSpan(separator + 1).ToArray();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(db);
            CryptographicOperations.ZeroMemory(seed);
        }
    }

    /// <summary>target ^= MGF1-SHA256(mgfSeed, target.Length).</summary>
    private static void XorMask(Span<byte> target, ReadOnlySpan<byte> mgfSeed)
    {
        var input = new byte[mgfSeed.Length + 4];
        Span<byte> block = stackalloc byte[SHA256.HashSizeInBytes];
        mgfSeed.CopyTo(input);
        try
        {
            for (uint counter = 0, offset = 0; offset < target.Length; counter++, offset += (uint)block.Length)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(input.AsSpan(mgfSeed.Length), counter);
                SHA256.HashData(input, block);
                var chunk = target[(int)offset..][..Math.Min(block.Length, target.Length - (int)offset)];
                for (var i = 0; i < chunk.Length; i++)
                {
                    chunk[i] ^= block[i];
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
            CryptographicOperations.ZeroMemory(block);
        }
    }
}

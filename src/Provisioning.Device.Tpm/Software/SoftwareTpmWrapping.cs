using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>The TPM's wrappers: the outer wrapper of a credential, a duplicate or a private blob, and the inner wrapper of a duplicate.</summary>
/// <remarks>
/// TPM 2.0 Library Part 1, §24 (credential protection: ActivateCredential), §23.3 (duplication: outer wrapper with a seed from
/// the new parent, inner wrapper with a caller key), §27.5 (protected storage of a private area). All keys come from
/// <see cref="SoftwareTpmKdf"/> with SHA-256; the symmetric cipher is AES-128-CFB, the parent's algorithm in the DPS flow.
/// Integrity values are compared with <see cref="CryptographicOperations.FixedTimeEquals"/>. Errors are thrown without a
/// position; the command blames its own parameter, as the reference implementation's <c>RcSafeAddToResult</c> does.
/// </remarks>
internal static class SoftwareTpmWrapping
{
    private const int SymKeySize = 16;
    private const int DigestSize = SHA256.HashSizeInBytes;

    /// <summary>Recovers the credential of a TPM2B_ID_OBJECT (contents) bound to <paramref name="name"/> (Part 1 §24.4).</summary>
    public static byte[] CredentialToSecret(ReadOnlySpan<byte> idObject, ReadOnlySpan<byte> name, ReadOnlySpan<byte> seed)
    {
        var plain = UnwrapOuter(idObject, name, seed, iv: default);
        try
        {
            var reader = new TpmReader(plain);
            var credential = ReadSized(ref reader, DigestSize).ToArray();
            if (!reader.IsAtEnd)
            {
                throw new SoftwareTpmFault(TpmResponseCode.Size);
            }

            return credential;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plain);
        }
    }

    /// <summary>Opens a duplicate (TPM2B_PRIVATE contents) with an outer wrapper under <paramref name="seed"/> and an inner
    /// AES-128-CFB wrapper under <paramref name="innerKey"/>; returns the TPMT_SENSITIVE bytes (Part 1 §23.3.2).</summary>
    public static byte[] DuplicateToSensitive(ReadOnlySpan<byte> duplicate, ReadOnlySpan<byte> name, ReadOnlySpan<byte> seed, ReadOnlySpan<byte> innerKey)
    {
        var inner = seed.IsEmpty ? duplicate.ToArray() : UnwrapOuter(duplicate, name, seed, iv: default);
        try
        {
            if (!innerKey.IsEmpty)
            {
                // Inner wrapper: CFB(innerKey, IV 0, TPM2B(H(TPM2B_SENSITIVE ‖ Name)) ‖ TPM2B_SENSITIVE).
                SoftwareTpmCfb.Decrypt(innerKey, default, inner);
                var reader = new TpmReader(inner);
                var integrity = ReadSized(ref reader, DigestSize);
                var sensitive = reader.ReadRemaining();
                Span<byte> expected = stackalloc byte[DigestSize];
                using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
                {
                    hash.AppendData(sensitive);
                    hash.AppendData(name);
                    hash.GetHashAndReset(expected);
                }

                if (!CryptographicOperations.FixedTimeEquals(integrity, expected))
                {
                    throw new SoftwareTpmFault(TpmResponseCode.Integrity);
                }

                return UnwrapSensitive(sensitive);
            }

            return UnwrapSensitive(inner);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(inner);
        }
    }

    /// <summary>Protects a TPMT_SENSITIVE under its parent for TPM2_Import's outPrivate (Part 1 §27.5.3: integrity, IV, encrypted
    /// TPM2B_SENSITIVE).</summary>
    public static byte[] SensitiveToPrivate(ReadOnlySpan<byte> sensitive, ReadOnlySpan<byte> name, ReadOnlySpan<byte> parentSeed)
    {
        Span<byte> iv = stackalloc byte[16];
        RandomNumberGenerator.Fill(iv);
        using var body = new TpmWriter(sensitive.Length + 64);
        body.WriteSized(iv);
        var encryptedFrom = body.Length;
        body.WriteSized(sensitive);
        var buffer = body.ToArray();
        try
        {
            ApplyOuter(buffer.AsSpan(encryptedFrom), name, parentSeed, iv);
            Span<byte> integrity = stackalloc byte[DigestSize];
            ComputeIntegrity(parentSeed, buffer, name, integrity);
            using var result = new TpmWriter(buffer.Length + DigestSize + 2);
            result.WriteSized(integrity);
            result.WriteBytes(buffer);
            return result.ToArray();
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
        }
    }

    /// <summary>Opens a private blob made by <see cref="SensitiveToPrivate"/>; returns the TPMT_SENSITIVE bytes.</summary>
    public static byte[] PrivateToSensitive(ReadOnlySpan<byte> outPrivate, ReadOnlySpan<byte> name, ReadOnlySpan<byte> parentSeed)
    {
        var reader = new TpmReader(outPrivate);
        var integrity = ReadSized(ref reader, DigestSize);
        var protectedPart = reader.ReadRemaining();
        Span<byte> expected = stackalloc byte[DigestSize];
        ComputeIntegrity(parentSeed, protectedPart, name, expected);
        if (!CryptographicOperations.FixedTimeEquals(integrity, expected))
        {
            throw new SoftwareTpmFault(TpmResponseCode.Integrity);
        }

        var body = new TpmReader(protectedPart);
        var iv = ReadSized(ref body, 16);
        var encrypted = body.ReadRemaining().ToArray();
        try
        {
            ApplyOuter(encrypted, name, parentSeed, iv, decrypt: true);
            return UnwrapSensitive(encrypted);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(encrypted);
        }
    }

    /// <summary>Checks HMAC(KDFa(seed, INTEGRITY), enc ‖ name) and decrypts enc with KDFa(seed, STORAGE, name) (Part 1 §23.3.1, §24.5).</summary>
    private static byte[] UnwrapOuter(ReadOnlySpan<byte> wrapped, ReadOnlySpan<byte> name, ReadOnlySpan<byte> seed, ReadOnlySpan<byte> iv)
    {
        var reader = new TpmReader(wrapped);
        var integrity = ReadSized(ref reader, DigestSize);
        var encrypted = reader.ReadRemaining();
        Span<byte> expected = stackalloc byte[DigestSize];
        ComputeIntegrity(seed, encrypted, name, expected);
        if (!CryptographicOperations.FixedTimeEquals(integrity, expected))
        {
            throw new SoftwareTpmFault(TpmResponseCode.Integrity);
        }

        var plain = encrypted.ToArray();
        ApplyOuter(plain, name, seed, iv, decrypt: true);
        return plain;
    }

    private static void ComputeIntegrity(ReadOnlySpan<byte> seed, ReadOnlySpan<byte> data, ReadOnlySpan<byte> name, Span<byte> destination)
    {
        Span<byte> hmacKey = stackalloc byte[DigestSize];
        try
        {
            SoftwareTpmKdf.KdfA(seed, SoftwareTpmKdf.Integrity, default, default, hmacKey);
            using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, hmacKey);
            hmac.AppendData(data);
            hmac.AppendData(name);
            hmac.GetHashAndReset(destination);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(hmacKey);
        }
    }

    private static void ApplyOuter(Span<byte> data, ReadOnlySpan<byte> name, ReadOnlySpan<byte> seed, ReadOnlySpan<byte> iv, bool decrypt = false)
    {
        Span<byte> symKey = stackalloc byte[SymKeySize];
        try
        {
            SoftwareTpmKdf.KdfA(seed, SoftwareTpmKdf.Storage, name, default, symKey);
            if (decrypt)
            {
                SoftwareTpmCfb.Decrypt(symKey, iv, data);
            }
            else
            {
                SoftwareTpmCfb.Encrypt(symKey, iv, data);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(symKey);
        }
    }

    /// <summary>Reads a TPM2B_SENSITIVE that must fill <paramref name="data"/>, returning the TPMT_SENSITIVE inside.</summary>
    private static byte[] UnwrapSensitive(ReadOnlySpan<byte> data)
    {
        var reader = new TpmReader(data);
        var sensitive = ReadSized(ref reader, ushort.MaxValue);
        if (!reader.IsAtEnd)
        {
            throw new SoftwareTpmFault(TpmResponseCode.Size);
        }

        return sensitive.ToArray();
    }

    /// <summary>A TPM2B read with the reference implementation's codes: TPM_RC_SIZE above the maximum, TPM_RC_INSUFFICIENT when short.</summary>
    internal static ReadOnlySpan<byte> ReadSized(ref TpmReader reader, int maxSize)
    {
        if (reader.Remaining < 2)
        {
            throw new SoftwareTpmFault(SoftwareTpmRc.Insufficient);
        }

        var size = reader.ReadUInt16();
        if (size > maxSize)
        {
            throw new SoftwareTpmFault(TpmResponseCode.Size);
        }

        if (size > reader.Remaining)
        {
            throw new SoftwareTpmFault(SoftwareTpmRc.Insufficient);
        }

        return reader.ReadBytes(size);
    }
}

using System.Buffers.Binary;
using System.Numerics;
using System.Security.Cryptography;
using Provisioning.Emulator.Tpm;

namespace Provisioning.Emulator.Tests.Tpm;

/// <summary>
/// The device side of the blob, written for the tests from TPM 2.0 Part 1 §24 and §23 in the opposite direction to the
/// issuer: OAEP decoding with the private key, integrity checks, CFB decryption, sensitive parsing. Each check throws
/// <see cref="CryptographicException"/> with the step that failed, as a TPM returns an error code.
/// </summary>
internal static class SoftwareTpmUnwrap
{
    /// <summary>ActivateCredential: the credential, if the blob is for this EK and bound to this name.</summary>
    public static byte[] ActivateCredential(RSAParameters ek, byte[] objectName, byte[] idObject, byte[] encryptedSecret)
    {
        var seed = OaepDecrypt(ek, Body(encryptedSecret), "IDENTITY\0"u8);
        var id = Body(idObject);
        var integrity = Sized(id, 0, out var next);
        var encIdentity = id[next..];
        Expect(HmacOf(seed, encIdentity, objectName).SequenceEqual(integrity), "credential integrity");
        var plain = Cfb(Kdf(seed, "STORAGE", objectName, 16), encIdentity);
        var credential = Sized(plain, 0, out var end).ToArray();
        Expect(end == plain.Length, "credential size");
        return credential;
    }

    /// <summary>Import + Load: the key bits of the duplicated KEYEDHASH object, every layer checked.</summary>
    public static byte[] Import(RSAParameters parent, byte[] innerKey, byte[] objectPublic, byte[] duplicate, byte[] inSymSeed)
    {
        var name = TpmTestKeys.NameOf(objectPublic);
        var seed = OaepDecrypt(parent, Body(inSymSeed), "DUPLICATE\0"u8);
        var priv = Body(duplicate);
        var outerHmac = Sized(priv, 0, out var next);
        var encrypted = priv[next..];
        Expect(HmacOf(seed, encrypted, name).SequenceEqual(outerHmac), "outer integrity");
        var inner = Cfb(innerKey, Cfb(Kdf(seed, "STORAGE", name, 16), encrypted));
        var innerDigest = Sized(inner, 0, out next);
        var sensitive2B = inner[next..];
        Expect(SHA256.HashData([.. sensitive2B, .. name]).AsSpan().SequenceEqual(innerDigest), "inner integrity");

        var sensitive = Sized(sensitive2B, 0, out var end);
        Expect(end == sensitive2B.Length, "TPM2B_SENSITIVE size");
        Expect(BinaryPrimitives.ReadUInt16BigEndian(sensitive) == 0x0008, "sensitiveType KEYEDHASH");
        var auth = Sized(sensitive, 2, out next);
        Expect(auth.Length == 0, "empty authValue");
        var seedValue = Sized(sensitive, next, out next);
        var key = Sized(sensitive, next, out next);
        Expect(next == sensitive.Length, "TPMT_SENSITIVE length");

        // Load: the public unique must be H(seedValue || key).
        Expect(objectPublic.AsSpan(^32).SequenceEqual(SHA256.HashData([.. seedValue, .. key])), "unique");
        return key.ToArray();
    }

    private static byte[] OaepDecrypt(RSAParameters key, ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> label)
    {
        var n = new BigInteger(key.Modulus, isUnsigned: true, isBigEndian: true);
        var d = new BigInteger(key.D, isUnsigned: true, isBigEndian: true);
        var m = BigInteger.ModPow(new BigInteger(ciphertext, isUnsigned: true, isBigEndian: true), d, n);
        var em = new byte[256];
        var bytes = m.ToByteArray(isUnsigned: true, isBigEndian: true);
        bytes.CopyTo(em, 256 - bytes.Length);

        Expect(em[0] == 0, "OAEP leading zero");
        var maskedSeed = em.AsSpan(1, 32).ToArray();
        var maskedDb = em.AsSpan(33).ToArray();
        var seed = Xor(maskedSeed, Mgf1(maskedDb, 32));
        var db = Xor(maskedDb, Mgf1(seed, maskedDb.Length));
        Expect(db.AsSpan(0, 32).SequenceEqual(SHA256.HashData(label)), "OAEP label hash");
        var one = Array.IndexOf(db, (byte)1, 32);
        Expect(one > 0 && db.AsSpan(32, one - 32).IndexOfAnyExcept((byte)0) < 0, "OAEP padding");
        return db[(one + 1)..];
    }

    private static byte[] Mgf1(byte[] seed, int length)
    {
        var output = new List<byte>();
        for (var counter = 0; output.Count < length; counter++)
        {
            var c = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(c, counter);
            output.AddRange(SHA256.HashData([.. seed, .. c]));
        }

        return output.Take(length).ToArray();
    }

    private static byte[] Xor(byte[] a, byte[] b) => a.Zip(b, (x, y) => (byte)(x ^ y)).ToArray();

    private static byte[] Kdf(byte[] seed, string label, byte[] contextU, int length)
    {
        var output = new byte[length];
        TpmKdf.KdfA(seed, label, contextU, default, output);
        return output;
    }

    private static byte[] HmacOf(byte[] seed, ReadOnlySpan<byte> data, byte[] name)
    {
        byte[] message = [.. data, .. name];
        return HMACSHA256.HashData(Kdf(seed, "INTEGRITY", [], 32), message);
    }

    /// <summary>CFB-128 decryption, zero IV, last block possibly partial.</summary>
    private static byte[] Cfb(byte[] key, ReadOnlySpan<byte> ciphertext)
    {
        using var aes = Aes.Create();
        aes.Key = key;
        var padded = new byte[(ciphertext.Length + 15) / 16 * 16];
        ciphertext.CopyTo(padded);
        return aes.DecryptCfb(padded, new byte[16], PaddingMode.None, 128)[..ciphertext.Length];
    }

    private static ReadOnlySpan<byte> Body(byte[] tpm2b)
    {
        Expect(BinaryPrimitives.ReadUInt16BigEndian(tpm2b) == tpm2b.Length - 2, "TPM2B size");
        return tpm2b.AsSpan(2);
    }

    private static ReadOnlySpan<byte> Sized(ReadOnlySpan<byte> buffer, int offset, out int next)
    {
        var size = BinaryPrimitives.ReadUInt16BigEndian(buffer[offset..]);
        next = offset + 2 + size;
        return buffer.Slice(offset + 2, size);
    }

    private static void Expect(bool condition, string step)
    {
        if (!condition)
        {
            throw new CryptographicException($"{step} check failed");
        }
    }
}

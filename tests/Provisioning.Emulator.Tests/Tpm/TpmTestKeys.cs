using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Provisioning.Emulator.Tests.Tpm;

/// <summary>Builds EK/SRK TPM2B_PUBLIC bytes from the dps-protocol.md §2.1 templates, independently of the issuer's code.</summary>
internal static class TpmTestKeys
{
    public const string EkPolicyHex = "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa";

    /// <summary>An odd modulus with its top bit set: the shape of a real RSA-2048 modulus.</summary>
    public static byte[] SampleModulus(byte fill = 0xA5)
    {
        var modulus = Enumerable.Repeat(fill, 256).ToArray();
        modulus[0] |= 0x80;
        modulus[^1] |= 1;
        return modulus;
    }

    public static byte[] Ek(byte[] modulus) => Public(0x000300B2, Convert.FromHexString(EkPolicyHex), modulus);

    public static byte[] Srk(byte[] modulus) => Public(0x00030472, [], modulus);

    /// <summary>TPM2B_PUBLIC of an RSA storage key: size | type | nameAlg | attrs | policy | AES-128-CFB | NULL | 2048 | exp | unique.</summary>
    public static byte[] Public(uint attributes, byte[] policy, byte[] modulus, ushort type = 0x0001, ushort nameAlg = 0x000B,
        ushort symAlg = 0x0006, ushort symBits = 128, ushort symMode = 0x0043, ushort scheme = 0x0010, ushort keyBits = 2048, uint exponent = 0)
    {
        using var ms = new MemoryStream();
        void U16(int v) { Span<byte> b = stackalloc byte[2]; BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)v); ms.Write(b); }
        void U32(uint v) { Span<byte> b = stackalloc byte[4]; BinaryPrimitives.WriteUInt32BigEndian(b, v); ms.Write(b); }
        U16(0); // size, patched below
        U16(type);
        U16(nameAlg);
        U32(attributes);
        U16(policy.Length);
        ms.Write(policy);
        U16(symAlg);
        U16(symBits);
        U16(symMode);
        U16(scheme);
        U16(keyBits);
        U32(exponent);
        U16(modulus.Length);
        ms.Write(modulus);
        var bytes = ms.ToArray();
        BinaryPrimitives.WriteUInt16BigEndian(bytes, (ushort)(bytes.Length - 2));
        return bytes;
    }

    public static byte[] ModulusOf(RSA rsa) => rsa.ExportParameters(false).Modulus!;

    /// <summary>The six size-prefixed parts of an activation blob, each with its size prefix.</summary>
    public static byte[][] SplitBlob(byte[] blob)
    {
        var parts = new byte[6][];
        var offset = 0;
        for (var i = 0; i < 6; i++)
        {
            var size = BinaryPrimitives.ReadUInt16BigEndian(blob.AsSpan(offset));
            parts[i] = blob.AsSpan(offset, 2 + size).ToArray();
            offset += 2 + size;
        }

        Assert.Equal(blob.Length, offset);
        return parts;
    }

    /// <summary>The TPM name of a TPM2B_PUBLIC: 0x000B || SHA-256(TPMT_PUBLIC).</summary>
    public static byte[] NameOf(byte[] tpm2bPublic) => [0x00, 0x0B, .. SHA256.HashData(tpm2bPublic.AsSpan(2))];
}

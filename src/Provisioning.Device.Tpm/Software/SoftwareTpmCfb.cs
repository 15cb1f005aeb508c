using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>AES in full-block CFB mode with a final partial block, as a TPM uses it for wrappers and credentials.</summary>
/// <remarks>TPM 2.0 Library Part 1, §11.4.6.4 (CFB with a 128-bit feedback and no padding: the ciphertext is as long as the
/// plaintext). The .NET one-shot CFB APIs require whole blocks without padding, so the mode is built on single-block ECB.</remarks>
internal static class SoftwareTpmCfb
{
    private const int BlockSize = 16;

    /// <summary>Encrypts <paramref name="data"/> in place.</summary>
    public static void Encrypt(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, Span<byte> data) => Transform(key, iv, data, encrypt: true);

    /// <summary>Decrypts <paramref name="data"/> in place.</summary>
    public static void Decrypt(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, Span<byte> data) => Transform(key, iv, data, encrypt: false);

    private static void Transform(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv, Span<byte> data, bool encrypt)
    {
        if (iv.Length is not (0 or BlockSize))
        {
            throw new ArgumentException("The IV must be empty (zero) or one block.", nameof(iv));
        }

        using var aes = Aes.Create();
        aes.Key = key.ToArray();
        Span<byte> feedback = stackalloc byte[BlockSize];
        Span<byte> stream = stackalloc byte[BlockSize];
        feedback.Clear();
        iv.CopyTo(feedback);
        try
        {
            for (var offset = 0; offset < data.Length; offset += BlockSize)
            {
                aes.EncryptEcb(feedback, stream, PaddingMode.None);
                var chunk = data.Slice(offset, Math.Min(BlockSize, data.Length - offset));
                for (var i = 0; i < chunk.Length; i++)
                {
                    var input = chunk[i];
                    chunk[i] ^= stream[i];
                    feedback[i] = encrypt ? chunk[i] : input;
                }
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(stream);
            CryptographicOperations.ZeroMemory(feedback);
        }
    }
}

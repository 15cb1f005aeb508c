using System.Security.Cryptography;

namespace Provisioning.Emulator.Tpm;

/// <summary>AES-128 in full-block CFB mode with a zero IV, as the TPM encrypts credentials and wrapped sensitive areas.</summary>
/// <remarks>
/// TPM 2.0 Part 1 §24.4 and §23.3: the IV is all zeros and the last block may be partial (CFB is a stream mode there).
/// .NET's CFB with <see cref="PaddingMode.None"/> wants whole blocks, so the input is zero-padded and the ciphertext
/// truncated: a CFB-128 ciphertext byte depends only on earlier ciphertext and its own plaintext byte.
/// </remarks>
internal static class TpmAesCfb
{
    private const int BlockSize = 16;

    /// <summary>Encrypts <paramref name="plaintext"/> into <paramref name="destination"/> (same length).</summary>
    public static void Encrypt(ReadOnlySpan<byte> key, ReadOnlySpan<byte> plaintext, Span<byte> destination)
    {
        if (key.Length != TpmConstants.Aes128KeySize || destination.Length != plaintext.Length)
        {
            throw new ArgumentException("AES-128-CFB needs a 16-byte key and a destination as long as the input.", nameof(key));
        }

        var padded = (plaintext.Length + BlockSize - 1) / BlockSize * BlockSize;
        var buffer = new byte[padded];
        try
        {
            plaintext.CopyTo(buffer);
            using var aes = Aes.Create();
            aes.SetKey(key);
            Span<byte> iv = stackalloc byte[BlockSize];
            iv.Clear();
            aes.EncryptCfb(buffer, iv, buffer, PaddingMode.None, feedbackSizeInBits: 128);
            buffer.AsSpan(0, plaintext.Length).CopyTo(destination);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(buffer);
        }
    }
}

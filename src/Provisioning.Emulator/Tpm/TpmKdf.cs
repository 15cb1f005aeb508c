using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Provisioning.Emulator.Tpm;

/// <summary>KDFa with HMAC-SHA-256: the TPM's key derivation for credential and duplication wrappers.</summary>
/// <remarks>
/// TPM 2.0 Part 1 §11.4.10.2: SP 800-108 counter mode, each block HMAC(key, [i]32 || label || 0x00 || contextU ||
/// contextV || [bits]32). The label's terminating NUL is part of the input; one is added when the label lacks it.
/// </remarks>
internal static class TpmKdf
{
    private const int MaxLabelLength = 64;

    /// <summary>Fills <paramref name="destination"/> (whole bytes: bits = 8 × length) with KDFa output.</summary>
    public static void KdfA(
        ReadOnlySpan<byte> key,
        string label,
        ReadOnlySpan<byte> contextU,
        ReadOnlySpan<byte> contextV,
        Span<byte> destination)
    {
        ArgumentNullException.ThrowIfNull(label);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(label.Length, MaxLabelLength - 1);

        Span<byte> labelBytes = stackalloc byte[MaxLabelLength];
        var labelLength = Encoding.ASCII.GetBytes(label, labelBytes);
        if (labelLength == 0 || labelBytes[labelLength - 1] != 0)
        {
            labelBytes[labelLength++] = 0;
        }

        Span<byte> counter = stackalloc byte[sizeof(uint)];
        Span<byte> bits = stackalloc byte[sizeof(uint)];
        BinaryPrimitives.WriteUInt32BigEndian(bits, checked((uint)destination.Length * 8));
        Span<byte> block = stackalloc byte[TpmConstants.Sha256Size];
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, key);
        try
        {
            for (uint i = 1, offset = 0; offset < destination.Length; i++, offset += TpmConstants.Sha256Size)
            {
                BinaryPrimitives.WriteUInt32BigEndian(counter, i);
                hmac.AppendData(counter);
                hmac.AppendData(labelBytes[..labelLength]);
                hmac.AppendData(contextU);
                hmac.AppendData(contextV);
                hmac.AppendData(bits);
                hmac.GetHashAndReset(block);
                var take = Math.Min(block.Length, destination.Length - (int)offset);
                block[..take].CopyTo(destination[(int)offset..]);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(block);
        }
    }
}

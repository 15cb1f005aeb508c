using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>KDFa with SHA-256: the key derivation every TPM wrapper in the DPS flow uses.</summary>
/// <remarks>TPM 2.0 Library Part 1, §11.4.10.2 (KDFa, SP 800-108 counter mode with HMAC): each block is
/// HMAC(key, [i]₃₂ ‖ label ‖ 00 ‖ contextU ‖ contextV ‖ [bits]₃₂). The label's terminating zero is added here when the
/// caller's label lacks it, as the specification counts it as part of the label.</remarks>
internal static class SoftwareTpmKdf
{
    /// <summary>The labels of Part 1 §24 (credential protection) and §23 (duplication).</summary>
    public static ReadOnlySpan<byte> Storage => "STORAGE\0"u8;

    /// <inheritdoc cref="Storage"/>
    public static ReadOnlySpan<byte> Integrity => "INTEGRITY\0"u8;

    /// <summary>Derives <paramref name="destination"/>.Length bytes (a whole number of bytes: the DPS flow never asks for less).</summary>
    public static void KdfA(ReadOnlySpan<byte> key, ReadOnlySpan<byte> label, ReadOnlySpan<byte> contextU, ReadOnlySpan<byte> contextV, Span<byte> destination)
    {
        var withZero = label.Length > 0 && label[^1] == 0;
        var message = new byte[4 + label.Length + (withZero ? 0 : 1) + contextU.Length + contextV.Length + 4];
        var block = new byte[SHA256.HashSizeInBytes];
        try
        {
            var span = message.AsSpan(4);
            label.CopyTo(span);
            span = span[(label.Length + (withZero ? 0 : 1))..];
            contextU.CopyTo(span);
            contextV.CopyTo(span[contextU.Length..]);
            BinaryPrimitives.WriteUInt32BigEndian(message.AsSpan(message.Length - 4), checked((uint)destination.Length * 8));
            for (uint counter = 1; destination.Length > 0; counter++)
            {
                BinaryPrimitives.WriteUInt32BigEndian(message, counter);
                HMACSHA256.HashData(key, message, block);
                var take = Math.Min(block.Length, destination.Length);
                block.AsSpan(0, take).CopyTo(destination);
                destination = destination[take..];
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(message);
            CryptographicOperations.ZeroMemory(block);
        }
    }
}

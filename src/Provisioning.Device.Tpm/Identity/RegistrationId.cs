using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>The DPS registration ID of a TPM device, derived from its EK as the Azure IoT C SDK does.</summary>
/// <remarks>dps-protocol.md §2.5: lowercase RFC 4648 base32 of SHA-256(EK TPM2B_PUBLIC, size prefix included), padding
/// stripped: 52 characters.</remarks>
internal static class RegistrationId
{
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyz234567";

    public static string FromEndorsementKey(ReadOnlySpan<byte> endorsementKeyTpm2B)
    {
        Span<byte> digest = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(endorsementKeyTpm2B, digest);
        return Base32(digest);
    }

    internal static string Base32(ReadOnlySpan<byte> data)
    {
        var chars = new char[((data.Length * 8) + 4) / 5];
        int buffer = 0, bits = 0, i = 0;
        foreach (var b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                chars[i++] = Alphabet[(buffer >> (bits - 5)) & 31];
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            chars[i++] = Alphabet[(buffer << (5 - bits)) & 31];
        }

        return new string(chars, 0, i);
    }
}

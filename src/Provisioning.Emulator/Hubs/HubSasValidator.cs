using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Provisioning.Emulator.Hubs;

/// <summary>Why a SAS token was refused.</summary>
internal enum SasRefusal
{
    None,
    Malformed,
    WrongAudience,
    Expired,
    BadSignature,
}

/// <summary>Checks a device SAS token the way IoT Hub does.</summary>
/// <remarks>
/// dps-protocol.md §8: the token is <c>SharedAccessSignature sr={enc(target)}&amp;sig={enc(base64)}&amp;se={unix}</c>, with target
/// <c>{hub}/devices/{enc(deviceId)}</c> and the HMAC-SHA256 taken over <c>sr + "\n" + se</c> as sent (still encoded). Device tokens
/// carry no <c>skn</c>; the key is the device's (for TPM devices the identity key DPS wrapped for the hub).
/// </remarks>
internal static class HubSasValidator
{
    private const string Prefix = "SharedAccessSignature ";

    public static SasRefusal Validate(string? token, string hubHostName, string deviceId, HubDevice device, DateTimeOffset now, out DateTimeOffset expiresAt)
    {
        expiresAt = default;
        if (token is null || !token.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return SasRefusal.Malformed;
        }

        string? sr = null, sig = null, se = null;
        foreach (var part in token.AsSpan(Prefix.Length).Split('&'))
        {
            var pair = token.AsSpan(Prefix.Length)[part];
            var eq = pair.IndexOf('=');
            if (eq <= 0)
            {
                return SasRefusal.Malformed;
            }

            var value = pair[(eq + 1)..].ToString();
            switch (pair[..eq])
            {
                case "sr": sr = value; break;
                case "sig": sig = value; break;
                case "se": se = value; break;
                default: break;
            }
        }

        if (sr is null || sig is null || se is null
            || !long.TryParse(se, NumberStyles.None, CultureInfo.InvariantCulture, out var expiry))
        {
            return SasRefusal.Malformed;
        }

        var audience = Uri.UnescapeDataString(sr);
        var expected = $"{hubHostName}/devices/{Uri.EscapeDataString(deviceId)}";
        if (!string.Equals(audience, expected, StringComparison.OrdinalIgnoreCase)
            && !string.Equals(Uri.UnescapeDataString(audience), $"{hubHostName}/devices/{deviceId}", StringComparison.OrdinalIgnoreCase))
        {
            return SasRefusal.WrongAudience;
        }

        byte[] presented;
        try
        {
            presented = Convert.FromBase64String(Uri.UnescapeDataString(sig));
        }
        catch (FormatException)
        {
            return SasRefusal.Malformed;
        }

        var signed = Encoding.UTF8.GetBytes($"{sr}\n{se}");
        if (!Matches(device.PrimaryKey, signed, presented) && !Matches(device.SecondaryKey, signed, presented))
        {
            return SasRefusal.BadSignature;
        }

        expiresAt = DateTimeOffset.FromUnixTimeSeconds(Math.Min(expiry, DateTimeOffset.MaxValue.ToUnixTimeSeconds()));
        return expiresAt <= now ? SasRefusal.Expired : SasRefusal.None;
    }

    private static bool Matches(byte[]? key, byte[] signed, byte[] presented)
    {
        if (key is null || key.Length == 0)
        {
            return false;
        }

        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, signed, mac);
        var equal = CryptographicOperations.FixedTimeEquals(mac, presented);
        CryptographicOperations.ZeroMemory(mac);
        return equal;
    }
}

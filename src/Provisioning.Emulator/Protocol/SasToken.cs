using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Provisioning.Emulator.Protocol;

/// <summary>The outcome of checking a SAS token.</summary>
internal enum SasCheck
{
    /// <summary>Signature, audience, key name and expiry are good.</summary>
    Valid,

    /// <summary>The signature does not verify with the key.</summary>
    BadSignature,

    /// <summary>The audience (<c>sr</c>) or key name (<c>skn</c>) is not the expected one.</summary>
    WrongAudience,

    /// <summary><c>se</c> is in the past (beyond the allowed skew).</summary>
    Expired,
}

/// <summary>
/// A parsed <c>SharedAccessSignature sr=…&amp;sig=…&amp;se=…[&amp;skn=…]</c> token, kept as received.
/// </summary>
/// <remarks>
/// dps-protocol.md §11.3 and §3: the HMAC is computed over the <c>sr</c> text exactly as received plus <c>\n</c> plus
/// <c>se</c>, so both <c>%2F</c> (C#) and <c>%2f</c> (C SDK) encodings verify; the audience is compared after decoding.
/// </remarks>
internal sealed class SasToken
{
    private const string Prefix = "SharedAccessSignature ";

    private SasToken(string rawResource, string resource, byte[] signature, string rawExpiry, long expiry, string? keyName)
    {
        RawResource = rawResource;
        Resource = resource;
        Signature = signature;
        RawExpiry = rawExpiry;
        Expiry = expiry;
        KeyName = keyName;
    }

    /// <summary>The <c>sr</c> value as it appeared in the token.</summary>
    public string RawResource { get; }

    /// <summary>The decoded audience.</summary>
    public string Resource { get; }

    /// <summary>The decoded signature bytes.</summary>
    public byte[] Signature { get; }

    /// <summary>The <c>se</c> text as received.</summary>
    public string RawExpiry { get; }

    /// <summary>The expiry in Unix seconds.</summary>
    public long Expiry { get; }

    /// <summary>The <c>skn</c> value, decoded, or null.</summary>
    public string? KeyName { get; }

    /// <summary>Parses an Authorization header value; returns null when it is not a well-formed SAS token.</summary>
    public static SasToken? TryParse(string? header)
    {
        if (header is null || !header.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        string? sr = null, sig = null, se = null, skn = null;
        foreach (var part in header.AsSpan(Prefix.Length).Trim().ToString().Split('&'))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                return null;
            }

            var value = part[(eq + 1)..];
            switch (part[..eq])
            {
                case "sr": sr = value; break;
                case "sig": sig = value; break;
                case "se": se = value; break;
                case "skn": skn = value; break;
                default: break;
            }
        }

        if (sr is null || sig is null || se is null
            || !long.TryParse(se, NumberStyles.None, CultureInfo.InvariantCulture, out var expiry))
        {
            return null;
        }

        byte[] signature;
        try
        {
            signature = Convert.FromBase64String(Uri.UnescapeDataString(sig));
        }
        catch (FormatException)
        {
            return null;
        }

        return new SasToken(sr, Uri.UnescapeDataString(sr), signature, se, expiry, skn is null ? null : Uri.UnescapeDataString(skn));
    }

    /// <summary>Checks audience, key name, expiry and signature against one key.</summary>
    public SasCheck Check(ReadOnlySpan<byte> key, string expectedResource, string? expectedKeyName, DateTimeOffset now, TimeSpan skew) =>
        string.Equals(Resource, expectedResource, StringComparison.OrdinalIgnoreCase) && HasKeyName(expectedKeyName)
            ? CheckExpiryAndSignature(key, default, now, skew)
            : SasCheck.WrongAudience;

    /// <summary>Checks an IoT Hub device token: audience <c>{hub}/devices/{deviceId}</c>, no <c>skn</c>, expiry, and a signature
    /// by either device key.</summary>
    /// <remarks>
    /// dps-protocol.md §8 and §11.3. After the outer decoding of <c>sr</c> the device segment is either the id itself (§3: the
    /// symmetric-key form signs <c>URLENC({hub}/devices/{deviceId})</c>) or the id URL-encoded once more (§8: the TPM form signs
    /// <c>{hub}/devices/{UrlEncode(deviceId)}</c>), in either escape case. The host name compares case-insensitively, the device
    /// id (case-sensitive in IoT Hub) ordinally.
    /// </remarks>
    public SasCheck CheckHubDevice(string hubHostName, string deviceId, ReadOnlySpan<byte> primaryKey, ReadOnlySpan<byte> secondaryKey,
        DateTimeOffset now, TimeSpan skew) =>
        IsForHubDevice(hubHostName, deviceId) && HasKeyName(null)
            ? CheckExpiryAndSignature(primaryKey, secondaryKey, now, skew)
            : SasCheck.WrongAudience;

    /// <summary>The moment the token stops being accepted: <c>se</c> plus the allowed skew.</summary>
    public DateTimeOffset AcceptedUntil(TimeSpan skew)
    {
        var expiry = DateTimeOffset.FromUnixTimeSeconds(Math.Min(Expiry, DateTimeOffset.MaxValue.ToUnixTimeSeconds()));
        return expiry > DateTimeOffset.MaxValue - skew ? DateTimeOffset.MaxValue : expiry + skew;
    }

    /// <summary>Whether the signature is the HMAC-SHA256 of <c>sr + "\n" + se</c> (as received) under <paramref name="key"/>;
    /// an empty key verifies nothing.</summary>
    public bool VerifySignature(ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty)
        {
            return false;
        }

        var toSign = Encoding.UTF8.GetBytes(RawResource + "\n" + RawExpiry);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, toSign, mac);
        var equal = CryptographicOperations.FixedTimeEquals(mac, Signature);
        CryptographicOperations.ZeroMemory(mac);
        return equal;
    }

    private bool HasKeyName(string? expectedKeyName) => string.Equals(KeyName, expectedKeyName, StringComparison.Ordinal);

    private bool IsForHubDevice(string hubHostName, string deviceId)
    {
        var prefix = hubHostName + "/devices/";
        if (!Resource.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var segment = Resource[prefix.Length..];
        return string.Equals(segment, deviceId, StringComparison.Ordinal)
            || string.Equals(Uri.UnescapeDataString(segment), deviceId, StringComparison.Ordinal);
    }

    private SasCheck CheckExpiryAndSignature(ReadOnlySpan<byte> key, ReadOnlySpan<byte> otherKey, DateTimeOffset now, TimeSpan skew)
    {
        if (AcceptedUntil(skew) < now)
        {
            return SasCheck.Expired;
        }

        return VerifySignature(key) || VerifySignature(otherKey) ? SasCheck.Valid : SasCheck.BadSignature;
    }
}

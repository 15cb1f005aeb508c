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
    public SasCheck Check(ReadOnlySpan<byte> key, string expectedResource, string? expectedKeyName, DateTimeOffset now, TimeSpan skew)
    {
        if (!string.Equals(Resource, expectedResource, StringComparison.OrdinalIgnoreCase)
            || !string.Equals(KeyName, expectedKeyName, StringComparison.Ordinal))
        {
            return SasCheck.WrongAudience;
        }

        if (DateTimeOffset.FromUnixTimeSeconds(Math.Min(Expiry, 253402300799)) + skew < now)
        {
            return SasCheck.Expired;
        }

        return VerifySignature(key) ? SasCheck.Valid : SasCheck.BadSignature;
    }

    /// <summary>Whether the signature is the HMAC-SHA256 of <c>sr + "\n" + se</c> (as received) under <paramref name="key"/>.</summary>
    public bool VerifySignature(ReadOnlySpan<byte> key)
    {
        var toSign = Encoding.UTF8.GetBytes(RawResource + "\n" + RawExpiry);
        Span<byte> mac = stackalloc byte[HMACSHA256.HashSizeInBytes];
        HMACSHA256.HashData(key, toSign, mac);
        return CryptographicOperations.FixedTimeEquals(mac, Signature);
    }
}

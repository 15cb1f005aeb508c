using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;

namespace Provisioning.Emulator.Tests.Support;

/// <summary>SAS tokens written the way the device SDKs write them (dps-protocol.md §3), independent of the emulator's code.</summary>
internal static class TestSas
{
    public static string Create(byte[] key, string resource, DateTimeOffset expiry, string? keyName = "registration", bool lowerCaseEncoding = false)
    {
        var sr = WebUtility.UrlEncode(resource);
        if (lowerCaseEncoding)
        {
            sr = sr.Replace("%2F", "%2f", StringComparison.Ordinal);
        }

        var se = expiry.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var sig = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(sr + "\n" + se)));
        var token = $"SharedAccessSignature sr={sr}&sig={WebUtility.UrlEncode(sig)}&se={se}";
        return keyName is null ? token : token + "&skn=" + keyName;
    }

    public static string ForDevice(string keyBase64, string idScope, string registrationId, TimeSpan? lifetime = null, bool lowerCaseEncoding = false) =>
        Create(Convert.FromBase64String(keyBase64), $"{idScope}/registrations/{registrationId}", DateTimeOffset.UtcNow + (lifetime ?? TimeSpan.FromHours(1)), "registration", lowerCaseEncoding);

    public static string DeriveDeviceKey(string groupKeyBase64, string registrationId) =>
        Convert.ToBase64String(HMACSHA256.HashData(Convert.FromBase64String(groupKeyBase64), Encoding.UTF8.GetBytes(registrationId)));
}

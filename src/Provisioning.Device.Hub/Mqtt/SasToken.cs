using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Provisioning.Device.Hub.Mqtt;

/// <summary>Builds the device SAS token sent as the MQTT password.</summary>
/// <remarks>dps-protocol.md §8 "TPM SAS": target <c>{hub}/devices/{enc(deviceId)}</c>, URL-encoded again as <c>sr</c>; the signature
/// is HMAC-SHA256 over UTF-8(<c>sr + "\n" + se</c>), base64 then URL-encoded; no <c>skn</c>. Symmetric-key devices sign the same way.</remarks>
internal static class SasToken
{
    /// <summary>The token's resource before the outer encoding: <c>{hub}/devices/{UrlEncode(deviceId)}</c>.</summary>
    public static string Resource(string hubHostName, string deviceId) => $"{hubHostName}/devices/{Uri.EscapeDataString(deviceId)}";

    public static async ValueTask<string> CreateAsync(HubAuthentication authentication, string hubHostName, string deviceId,
        DateTimeOffset expiresAt, CancellationToken cancellationToken)
    {
        var sr = Uri.EscapeDataString(Resource(hubHostName, deviceId));
        var se = expiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var signature = await authentication.SignAsync(Encoding.UTF8.GetBytes($"{sr}\n{se}"), cancellationToken).ConfigureAwait(false);
        try
        {
            if (signature.Length != HMACSHA256.HashSizeInBytes)
            {
                throw new HubException($"The signer returned {signature.Length} bytes; HMAC-SHA256 has 32.");
            }

            return $"SharedAccessSignature sr={sr}&sig={Uri.EscapeDataString(Convert.ToBase64String(signature))}&se={se}";
        }
        finally
        {
            CryptographicOperations.ZeroMemory(signature);
        }
    }
}

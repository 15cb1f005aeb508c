using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Provisioning.Device;

/// <summary>Builds <c>SharedAccessSignature sr=…&amp;sig=…&amp;se=…[&amp;skn=…]</c> tokens: the one builder of DPS tokens and of the
/// hub's device tokens (Provisioning.Device.Hub compiles this file too, as a linked source).</summary>
/// <remarks>
/// dps-protocol.md §2.4, §3 and §8: <c>sr</c> is the URL-encoded resource (upper-case escapes, <c>%2F</c>), the string to
/// sign is <c>sr + "\n" + se</c> (the encoded form), and the base64 HMAC-SHA256 is URL-encoded into <c>sig</c>.
/// </remarks>
internal static class SasToken
{
    /// <summary>The hub's device token resource before the outer encoding: <c>{hub}/devices/{UrlEncode(deviceId)}</c> (§8).</summary>
    public static string HubResource(string hubHostName, string deviceId) => $"{hubHostName}/devices/{Uri.EscapeDataString(deviceId)}";

#if !PROVISIONING_HUB // compiled into Provisioning.Device.Hub too, where the attestation's signer is not visible
    public static ValueTask<string> CreateAsync(
        ProvisioningAttestation signer, string resource, DateTimeOffset expiresOn, string? keyName, CancellationToken cancellationToken) =>
        CreateAsync(signer.SignAsync, resource, expiresOn, keyName, cancellationToken);
#endif

    /// <param name="sign">Returns HMAC-SHA256 of the data with the key; the result is zeroed here.</param>
    /// <param name="resource">The resource, unencoded.</param>
    /// <param name="expiresOn">The expiry, sent as Unix seconds.</param>
    /// <param name="keyName">The <c>skn</c>, or <see langword="null"/> for none (the hub's tokens).</param>
    /// <param name="cancellationToken">Cancels the signing.</param>
    /// <exception cref="CryptographicException">The signer returned something other than an HMAC-SHA256.</exception>
    public static async ValueTask<string> CreateAsync(
        Func<ReadOnlyMemory<byte>, CancellationToken, ValueTask<byte[]>> sign, string resource, DateTimeOffset expiresOn, string? keyName,
        CancellationToken cancellationToken)
    {
        string sr = Uri.EscapeDataString(resource);
        string se = expiresOn.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        byte[] toSign = Encoding.UTF8.GetBytes(sr + "\n" + se);
        byte[] signature = await sign(toSign, cancellationToken).ConfigureAwait(false);
        try
        {
            if (signature.Length != HMACSHA256.HashSizeInBytes)
            {
                throw new CryptographicException($"The signer returned {signature.Length} bytes; HMAC-SHA256 has {HMACSHA256.HashSizeInBytes}.");
            }

            string sig = Uri.EscapeDataString(Convert.ToBase64String(signature));
            return keyName is null
                ? $"SharedAccessSignature sr={sr}&sig={sig}&se={se}"
                : $"SharedAccessSignature sr={sr}&sig={sig}&se={se}&skn={Uri.EscapeDataString(keyName)}";
        }
        finally
        {
            CryptographicOperations.ZeroMemory(signature);
        }
    }
}

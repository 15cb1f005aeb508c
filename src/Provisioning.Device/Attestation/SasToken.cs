using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Provisioning.Device;

/// <summary>Builds <c>SharedAccessSignature sr=…&amp;sig=…&amp;se=…[&amp;skn=…]</c> tokens.</summary>
/// <remarks>
/// dps-protocol.md §2.4 and §3: <c>sr</c> is the URL-encoded resource (upper-case escapes, <c>%2F</c>), the string to
/// sign is <c>sr + "\n" + se</c> (the encoded form), and the base64 HMAC is URL-encoded into <c>sig</c>.
/// </remarks>
internal static class SasToken
{
    public static async ValueTask<string> CreateAsync(
        ProvisioningAttestation signer, string resource, DateTimeOffset expiresOn, string? keyName, CancellationToken cancellationToken)
    {
        string sr = Uri.EscapeDataString(resource);
        string se = expiresOn.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        byte[] toSign = Encoding.UTF8.GetBytes(sr + "\n" + se);
        byte[] signature = await signer.SignAsync(toSign, cancellationToken).ConfigureAwait(false);
        try
        {
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

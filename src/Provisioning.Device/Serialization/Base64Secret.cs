using System.Security.Cryptography;

namespace Provisioning.Device.Serialization;

/// <summary>Decodes base64 that carries a secret (a key, an activation blob) without leaving copies behind.</summary>
internal static class Base64Secret
{
    /// <returns>The bytes, or <see langword="null"/> when the text is not base64 or decodes to nothing.</returns>
    public static byte[]? TryDecode(string text)
    {
        byte[] buffer = new byte[(text.Length * 3 / 4) + 3];
        if (!Convert.TryFromBase64String(text, buffer, out int written) || written == 0)
        {
            CryptographicOperations.ZeroMemory(buffer);
            return null;
        }

        if (written == buffer.Length)
        {
            return buffer;
        }

        byte[] exact = buffer.AsSpan(0, written).ToArray();
        CryptographicOperations.ZeroMemory(buffer);
        return exact;
    }
}

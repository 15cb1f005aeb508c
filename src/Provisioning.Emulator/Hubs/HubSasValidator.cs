using Provisioning.Emulator.Protocol;

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

/// <summary>Checks a device SAS token the way IoT Hub does, with the emulator's one SAS parser (<see cref="SasToken"/>).</summary>
/// <remarks>
/// dps-protocol.md §8 and §11.3: the token is <c>SharedAccessSignature sr={enc(target)}&amp;sig={enc(base64)}&amp;se={unix}</c>, with
/// target <c>{hub}/devices/{deviceId}</c> (the device id itself encoded or not, see <see cref="SasToken.CheckHubDevice"/>) and the
/// HMAC-SHA256 taken over <c>sr + "\n" + se</c> as sent. Device tokens carry no <c>skn</c>; the key is the device's (for TPM devices
/// the identity key DPS wrapped for the hub). Expiry allows the same clock skew as DPS.
/// </remarks>
internal static class HubSasValidator
{
    /// <summary>Validates <paramref name="token"/>; on success <paramref name="acceptedUntil"/> is when the connection's token
    /// lapses (<c>se</c> plus <paramref name="skew"/>).</summary>
    public static SasRefusal Validate(string? token, string hubHostName, string deviceId, HubDevice device, DateTimeOffset now, TimeSpan skew,
        out DateTimeOffset acceptedUntil)
    {
        acceptedUntil = default;
        if (SasToken.TryParse(token) is not { } sas)
        {
            return SasRefusal.Malformed;
        }

        var check = sas.CheckHubDevice(hubHostName, deviceId, device.PrimaryKey, device.SecondaryKey, now, skew);
        switch (check)
        {
            case SasCheck.Valid:
                acceptedUntil = sas.AcceptedUntil(skew);
                return SasRefusal.None;
            case SasCheck.Expired:
                return SasRefusal.Expired;
            case SasCheck.WrongAudience:
                return SasRefusal.WrongAudience;
            default:
                return SasRefusal.BadSignature;
        }
    }
}

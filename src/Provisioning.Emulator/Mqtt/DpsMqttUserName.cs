namespace Provisioning.Emulator.Mqtt;

/// <summary>
/// The CONNECT user name of a DPS device: <c>{idScope}/registrations/{registrationId}/api-version={V}&amp;ClientVersion={UA}</c>
/// (dps-protocol.md §5). <c>ClientVersion</c> is optional and never checked.
/// </summary>
internal readonly record struct DpsMqttUserName(string IdScope, string RegistrationId, string? ApiVersion)
{
    private const string Registrations = "/registrations/";

    /// <summary>Reads the user name; null when it does not have that shape.</summary>
    public static DpsMqttUserName? Parse(string? userName)
    {
        if (string.IsNullOrEmpty(userName))
        {
            return null;
        }

        var registrations = userName.IndexOf(Registrations, StringComparison.Ordinal);
        if (registrations <= 0)
        {
            return null;
        }

        var rest = userName.AsSpan(registrations + Registrations.Length);
        var slash = rest.IndexOf('/');
        if (slash <= 0)
        {
            return null;
        }

        // Some clients put a '?' before the parameters, as in the hub's user name; both shapes are read.
        var query = rest[(slash + 1)..].TrimStart('?').ToString();
        return new DpsMqttUserName(userName[..registrations], rest[..slash].ToString(), DpsMqttTopics.QueryValue(query, "api-version"));
    }
}

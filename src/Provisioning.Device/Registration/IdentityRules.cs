namespace Provisioning.Device;

/// <summary>
/// The rules an assigned identity must meet before it is used or cached: the rules IoT Hub and the hub client apply, so that an
/// identity that passes here can be connected with, and one that fails never reaches the cache.
/// </summary>
/// <remarks>
/// Device id: 1 to 128 characters from IoT Hub's set (ASCII letters and digits and <c>- : . % _ * ? ! ( ) , = @ ; $ '</c>),
/// less <c>+</c> and <c>#</c>, which IoT Hub allows but which are MQTT wildcards in the topic filters the device id goes into
/// (dps-protocol.md §8), and so never <c>/</c>, a space, a control or non-ASCII character. Hub: a DNS host name of at most 253
/// characters, labels of 1 to 63 ASCII letters, digits and hyphens that neither start nor end with a hyphen (RFC 1035 §2.3.1,
/// RFC 1123 §2.1); never an IP address, a port, a path or a user part.
/// </remarks>
internal static class IdentityRules
{
    /// <summary>IoT Hub's limit on a device id.</summary>
    public const int MaxDeviceIdLength = 128;

    /// <summary>The longest DNS name (RFC 1035 §2.3.4).</summary>
    public const int MaxHostNameLength = 253;

    /// <summary>The device id rule, as error messages state it.</summary>
    public const string DeviceIdRule =
        "1 to 128 characters among ASCII letters, digits and - : . % _ * ? ! ( ) , = @ ; $ ' (IoT Hub's set without the MQTT wildcards + and #)";

    /// <summary>The hub rule, as error messages state it.</summary>
    public const string HubRule =
        "a DNS host name: at most 253 characters, dot-separated labels of 1 to 63 ASCII letters, digits or hyphens, no leading or trailing hyphen";

    private const string DeviceIdSpecials = "-:.%_*?!(),=@;$'";

    /// <summary>Why <paramref name="deviceId"/> breaks <see cref="DeviceIdRule"/>, or <see langword="null"/> when it does not.</summary>
    public static string? CheckDeviceId(string? deviceId)
    {
        if (string.IsNullOrEmpty(deviceId))
        {
            return "it is empty";
        }

        if (deviceId.Length > MaxDeviceIdLength)
        {
            return $"it has {deviceId.Length} characters";
        }

        for (int i = 0; i < deviceId.Length; i++)
        {
            char c = deviceId[i];
            if (!char.IsAsciiLetterOrDigit(c) && !DeviceIdSpecials.Contains(c, StringComparison.Ordinal))
            {
                return $"character {i + 1} is {Describe(c)}";
            }
        }

        return null;
    }

    /// <summary>Why <paramref name="hostName"/> breaks <see cref="HubRule"/>, or <see langword="null"/> when it does not.</summary>
    public static string? CheckHubHostName(string? hostName)
    {
        if (string.IsNullOrEmpty(hostName))
        {
            return "it is empty";
        }

        if (hostName.Length > MaxHostNameLength)
        {
            return $"it has {hostName.Length} characters";
        }

        int labelStart = 0;
        bool allDigitsOrDots = true;
        for (int i = 0; i <= hostName.Length; i++)
        {
            if (i == hostName.Length || hostName[i] == '.')
            {
                int length = i - labelStart;
                if (length == 0)
                {
                    return "it has an empty label";
                }

                if (length > 63)
                {
                    return $"a label has {length} characters";
                }

                if (hostName[labelStart] == '-' || hostName[i - 1] == '-')
                {
                    return "a label starts or ends with a hyphen";
                }

                labelStart = i + 1;
                continue;
            }

            char c = hostName[i];
            if (!char.IsAsciiLetterOrDigit(c) && c != '-')
            {
                return $"character {i + 1} is {Describe(c)}";
            }

            allDigitsOrDots &= char.IsAsciiDigit(c);
        }

        return allDigitsOrDots ? "it is an IP address, not a host name" : null;
    }

    /// <summary>Names a character without echoing anything unprintable.</summary>
    private static string Describe(char c) =>
        c is > ' ' and < (char)0x7F ? $"'{c}'" : $"U+{(int)c:X4}";
}

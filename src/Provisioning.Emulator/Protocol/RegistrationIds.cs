namespace Provisioning.Emulator.Protocol;

/// <summary>
/// Registration ids and enrollment group ids as DPS defines them: a case-insensitive string of up to 128 ASCII letters,
/// digits and <c>- . _ :</c>, whose last character is a letter, a digit or <c>-</c>. The same rule holds for the device
/// API (URL, MQTT client id) and the service API (enrollments, groups), so an enrollment the service accepts can register.
/// </summary>
internal static class RegistrationIds
{
    /// <summary>The longest id.</summary>
    public const int MaxLength = 128;

    /// <summary>The rule, as error messages name it.</summary>
    public const string Rule = "1–128 characters of ASCII letters, digits, '-', '.', '_', ':', ending in a letter, a digit or '-'";

    /// <summary>How ids are compared (DPS: case-insensitive).</summary>
    public static StringComparer Comparer => StringComparer.OrdinalIgnoreCase;

    /// <summary>Whether <paramref name="id"/> follows <see cref="Rule"/>.</summary>
    public static bool IsValid(string? id)
    {
        if (id is null || id.Length is 0 or > MaxLength)
        {
            return false;
        }

        foreach (var c in id)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '.' or '_' or ':'))
            {
                return false;
            }
        }

        var last = id[^1];
        return char.IsAsciiLetterOrDigit(last) || last == '-';
    }
}

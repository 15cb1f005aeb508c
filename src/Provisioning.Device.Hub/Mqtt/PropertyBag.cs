using System.Text;

namespace Provisioning.Device.Hub.Mqtt;

/// <summary>The URL-encoded property bag of telemetry and C2D topics.</summary>
/// <remarks>dps-protocol.md §8: <c>k=v</c> pairs joined by <c>&amp;</c>, each side escaped with <c>Uri.EscapeDataString</c>.
/// We send no trailing <c>/</c> (as the C SDK); one is accepted on receive (the C# SDK style).</remarks>
internal static class PropertyBag
{
    public static void Append(StringBuilder builder, string key, string? value)
    {
        if (value is null)
        {
            return;
        }

        if (builder[^1] != '/')
        {
            builder.Append('&');
        }

        builder.Append(Uri.EscapeDataString(key)).Append('=').Append(Uri.EscapeDataString(value));
    }

    public static Dictionary<string, string> Parse(ReadOnlySpan<char> bag)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (bag.EndsWith("/"))
        {
            bag = bag[..^1];
        }

        foreach (var range in bag.Split('&'))
        {
            var pair = bag[range];
            if (pair.IsEmpty)
            {
                continue;
            }

            var eq = pair.IndexOf('=');
            var key = Uri.UnescapeDataString(eq < 0 ? pair.ToString() : pair[..eq].ToString());
            result[key] = eq < 0 ? string.Empty : Uri.UnescapeDataString(pair[(eq + 1)..].ToString());
        }

        return result;
    }
}

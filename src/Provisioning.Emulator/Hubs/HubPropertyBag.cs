using System.Text;

namespace Provisioning.Emulator.Hubs;

/// <summary>The URL-encoded property bag at the end of telemetry and C2D topics.</summary>
/// <remarks>dps-protocol.md §8: <c>k=v</c> pairs joined by <c>&amp;</c>, each side escaped with <c>Uri.EscapeDataString</c>; a trailing
/// <c>/</c> may follow (the C# SDK sends one).</remarks>
internal static class HubPropertyBag
{
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
            var value = eq < 0 ? string.Empty : Uri.UnescapeDataString(pair[(eq + 1)..].ToString());
            result[key] = value;
        }

        return result;
    }

    public static string Format(IEnumerable<KeyValuePair<string, string>> properties)
    {
        var builder = new StringBuilder();
        foreach (var (key, value) in properties)
        {
            if (builder.Length > 0)
            {
                builder.Append('&');
            }

            builder.Append(Uri.EscapeDataString(key)).Append('=').Append(Uri.EscapeDataString(value));
        }

        return builder.ToString();
    }
}

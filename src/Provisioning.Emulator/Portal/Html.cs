using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Unicode;

namespace Provisioning.Emulator.Portal;

/// <summary>Markup that is already safe to emit as is (built by <see cref="Html"/> or a literal of the portal's own).</summary>
internal readonly record struct HtmlString(string Value)
{
    public override string ToString() => Value;
}

/// <summary>
/// Server-rendered HTML without a template engine: <c>html.Add($"&lt;td&gt;{value}&lt;/td&gt;")</c> encodes every interpolated
/// value (text and attribute alike) unless it is an <see cref="HtmlString"/> or another <see cref="Html"/>. Literal parts are
/// the portal's own markup.
/// </summary>
internal sealed class Html
{
    /// <summary>Encodes everything HTML-significant; keeps letters of every script readable.</summary>
    internal static readonly HtmlEncoder Encoder = HtmlEncoder.Create(UnicodeRanges.All);

    internal StringBuilder Builder { get; } = new();

    public Html Add([InterpolatedStringHandlerArgument("")] ref HtmlHandler handler)
    {
        _ = handler;
        return this;
    }

    public Html Text(string? text)
    {
        Builder.Append(Encoder.Encode(text ?? string.Empty));
        return this;
    }

    public HtmlString ToHtml() => new(Builder.ToString());

    public override string ToString() => Builder.ToString();

    /// <summary>An interpolation whose holes are encoded.</summary>
    public static HtmlString Of([InterpolatedStringHandlerArgument] ref HtmlHandler handler) => handler.ToHtml();
}

/// <summary>The interpolated string handler of <see cref="Html"/>: literals verbatim, holes HTML-encoded.</summary>
[InterpolatedStringHandler]
internal ref struct HtmlHandler
{
    private readonly StringBuilder _builder;

    public HtmlHandler(int literalLength, int formattedCount, Html html)
    {
        _ = formattedCount;
        _builder = html.Builder;
        _builder.EnsureCapacity(_builder.Length + literalLength);
    }

    public HtmlHandler(int literalLength, int formattedCount)
    {
        _ = formattedCount;
        _builder = new StringBuilder(literalLength + 32);
    }

    public readonly void AppendLiteral(string literal) => _builder.Append(literal);

    public readonly void AppendFormatted(string? value) => _builder.Append(Html.Encoder.Encode(value ?? string.Empty));

    public readonly void AppendFormatted(HtmlString value) => _builder.Append(value.Value);

    public readonly void AppendFormatted(Html value) => _builder.Append(value.Builder);

    public readonly void AppendFormatted<T>(T value)
    {
        var text = value is IFormattable formattable ? formattable.ToString(null, CultureInfo.InvariantCulture) : value?.ToString();
        _builder.Append(Html.Encoder.Encode(text ?? string.Empty));
    }

    public readonly void AppendFormatted<T>(T value, string format) where T : IFormattable =>
        _builder.Append(Html.Encoder.Encode(value.ToString(format, CultureInfo.InvariantCulture)));

    internal readonly HtmlString ToHtml() => new(_builder.ToString());
}

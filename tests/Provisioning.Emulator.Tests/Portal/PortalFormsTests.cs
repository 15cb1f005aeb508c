using System.Text.Json.Nodes;

using Provisioning.Emulator.Portal;
using Provisioning.Emulator.Tests.Tpm;

namespace Provisioning.Emulator.Tests.Portal;

/// <summary>What the portal reads from an operator (TpmDeviceProvision's output, twin edits) and how it writes HTML.</summary>
public sealed class PortalFormsTests
{
    private static readonly string EkBase64 = Convert.ToBase64String(TpmTestKeys.Ek(new byte[256]));

    [Fact]
    public void DeriveRegistrationId_MatchesTheVectorOfDpsProtocol25()
        => Assert.Equal("un4jahv4cdr7rgz3jczknzja3jgon43u6fxovm6zss4tix2xjmoq", PortalForms.DeriveRegistrationId(TpmTestKeys.Ek(new byte[256])));

    [Fact]
    public void ParseTpmOutput_OfTpmDeviceProvision_TakesIdAndKeyAndIgnoresTheSrk()
    {
        var (id, ek) = PortalForms.ParseTpmOutput($"Registration Id: abc-01\nEndorsement Key: {EkBase64}\nStorage Root Key: AAAA\n");

        Assert.Equal("abc-01", id);
        Assert.Equal(EkBase64, ek);
    }

    [Fact]
    public void ParseTpmOutput_OfTheCSdkTool_TakesValuesFromTheLinesAfterTheLabels()
    {
        // tpm_device_provision: a label, a blank line, the value; CRLF line ends (dps-protocol.md §10).
        var text = $"Gathering the registration information...\r\n\r\nRegistration Id:\r\nabc:02\r\n\r\nEndorsement Key:\r\n{EkBase64}\r\n";

        var (id, ek) = PortalForms.ParseTpmOutput(text);

        Assert.Equal("abc:02", id);
        Assert.Equal(EkBase64, ek);
    }

    [Fact]
    public void ParseTpmOutput_OfABareKeyWrappedOverLines_JoinsIt()
    {
        var (id, ek) = PortalForms.ParseTpmOutput($"  {EkBase64[..30]}\n{EkBase64[30..]}  \n");

        Assert.Null(id);
        Assert.Equal(EkBase64, ek);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \n ")]
    public void ParseTpmOutput_OfNothing_GivesNothing(string text) => Assert.Equal((null, null), PortalForms.ParseTpmOutput(text));

    [Fact]
    public void Html_EncodesEveryHole_AndKeepsLiteralsAndMarkup()
    {
        var hostile = "<script>alert(\"x\")</script>' onmouseover='&";
        var safe = new HtmlString("<b>kept</b>");

        var html = Html.Of($"<td title=\"{hostile}\">{hostile}{safe}{42}</td>").Value;

        Assert.DoesNotContain("<script>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("\"x\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("' onmouseover='", html, StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;", html, StringComparison.Ordinal);
        Assert.Contains("<b>kept</b>42</td>", html, StringComparison.Ordinal);
        Assert.StartsWith("<td title=\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Diff_RemovesWithNull_PatchesOnlyWhatChanged_AndRecurses()
    {
        var current = (JsonObject)JsonNode.Parse("""{"a":1,"b":{"x":1,"y":2},"c":"same","$version":4}""")!;
        var wanted = (JsonObject)JsonNode.Parse("""{"b":{"x":1,"y":3},"c":"same","d":[1]}""")!;

        var patch = PortalForms.Diff(current, wanted);

        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"a":null,"b":{"y":3},"d":[1]}"""), patch), patch.ToJsonString());
    }

    [Theory]
    [InlineData("AAEC", new byte[] { 0, 1, 2 })]
    [InlineData("-_8", new byte[] { 0xfb, 0xff })]
    [InlineData("not base64!", null)]
    public void DecodeBase64_TakesStandardAndUrlSafe(string text, byte[]? expected) => Assert.Equal(expected, PortalForms.DecodeBase64(text));
}

using System.Text;
using System.Text.Json;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Emulator.Tests.Hubs;

/// <summary>A device's reported patch is network input: anything that is not a JSON object is a <see cref="JsonException"/>
/// (the hub answers 400), never another exception.</summary>
public sealed class HubTwinStoreTests
{
    [Theory]
    [InlineData("Not JSON", "{")]
    [InlineData("An array", "[1,2]")]
    [InlineData("Duplicate property names", "{\"a\":1,\"a\":2}")]
    [InlineData("Duplicate property names in a nested object", "{\"a\":{\"b\":1,\"b\":2}}")]
    [InlineData("Nested deeper than the reader allows", "DEEP")]
    public void PatchReported_WithMalformedPatch_ThrowsJsonException(string name, string patch)
    {
        var twin = new HubTwinStore(null);
        var json = patch == "DEEP" ? new string('[', 100) + new string(']', 100) : patch;
        json = patch == "DEEP" ? "{\"a\":" + json + "}" : json;

        var thrown = Record.Exception(() => twin.PatchReported(Encoding.UTF8.GetBytes(json)));

        Assert.True(thrown is JsonException, $"{name}: {thrown?.GetType().Name ?? "no exception"}");
        Assert.Equal("{\"desired\":{\"$version\":1},\"reported\":{\"$version\":1}}", twin.ToDocument());
    }

    [Fact]
    public void Reset_KeepsOnlyTheInitialTwin_AndMovesBothVersionsPastTheOldOnes()
    {
        var twin = new HubTwinStore("{\"interval\":30}", "gen-1");
        twin.PatchReported("{\"fw\":\"1.0\"}"u8);
        twin.PatchDesired("{\"mode\":\"eco\"}"u8);
        twin.PatchDesired("{\"mode\":\"max\"}"u8);

        var reset = twin.Reset("{\"interval\":30}", "gen-2");

        Assert.Equal("gen-2", reset.Generation);
        Assert.Equal("{\"desired\":{\"interval\":30,\"$version\":4},\"reported\":{\"$version\":3}}", reset.ToDocument());
    }
}

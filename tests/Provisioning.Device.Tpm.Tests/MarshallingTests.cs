namespace Provisioning.Device.Tpm.Tests;

public sealed class MarshallingTests
{
    [Theory]
    [InlineData("UINT16 then UINT32", "1234" + "89ABCDEF", 0x1234u, 0x89ABCDEFu)]
    [InlineData("zeros", "0000" + "00000000", 0u, 0u)]
    [InlineData("all ones", "FFFF" + "FFFFFFFF", 0xFFFFu, 0xFFFFFFFFu)]
    public void Reader_ReadsBigEndianIntegers(string name, string hex, uint first, uint second)
    {
        var reader = new TpmReader(Convert.FromHexString(hex));
        Assert.Equal(first, reader.ReadUInt16());
        Assert.Equal(second, reader.ReadUInt32());
        Assert.True(reader.IsAtEnd, name);
    }

    [Theory]
    [InlineData("empty buffer, UINT16", "", 2)]
    [InlineData("one byte, UINT16", "12", 2)]
    [InlineData("three bytes, UINT32", "123456", 4)]
    [InlineData("seven bytes, UINT64", "01020304050607", 8)]
    public void Reader_TruncatedInteger_ThrowsTpmFormatException(string name, string hex, int width)
    {
        var bytes = Convert.FromHexString(hex);
        var error = Assert.Throws<TpmFormatException>(() =>
        {
            var reader = new TpmReader(bytes);
            _ = width switch { 2 => reader.ReadUInt16(), 4 => reader.ReadUInt32(), _ => (long)reader.ReadUInt64() };
        });
        Assert.Contains("Truncated", error.Message, StringComparison.Ordinal);
        Assert.NotNull(name);
    }

    [Theory]
    [InlineData("empty TPM2B", "0000", "")]
    [InlineData("three bytes", "0003AABBCC", "AABBCC")]
    public void Reader_ReadsTpm2B(string name, string hex, string expected)
    {
        var reader = new TpmReader(Convert.FromHexString(hex));
        Assert.Equal(expected, Convert.ToHexString(reader.ReadSized()));
        reader.EnsureAtEnd(name);
    }

    [Theory]
    [InlineData("size beyond the data", "0005AABB", 64)]
    [InlineData("size field cut short", "00", 64)]
    [InlineData("size above the type's maximum (oversized digest)", "0041" + "00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000" + "00", 64)]
    public void Reader_MalformedTpm2B_ThrowsTpmFormatException(string name, string hex, int max)
    {
        var bytes = Convert.FromHexString(hex);
        Assert.Throws<TpmFormatException>(() =>
        {
            var reader = new TpmReader(bytes);
            reader.ReadSized(max, name);
        });
    }

    [Fact]
    public void Reader_TrailingBytes_AreReported()
    {
        var error = Assert.Throws<TpmFormatException>(() =>
        {
            var reader = new TpmReader([0, 1, 2]);
            reader.ReadUInt16();
            reader.EnsureAtEnd("TPMS_TEST");
        });
        Assert.Contains("TPMS_TEST has 1 unexpected trailing byte", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Writer_PatchesTpm2BAndMessageSizes()
    {
        using var writer = new TpmWriter(4); // small on purpose: the buffer must grow
        writer.BeginMessage(TpmStructureTag.Sessions, (uint)TpmCommandCode.Hmac);
        writer.WriteUInt32(0x81000100);
        var auth = writer.BeginSized32();
        TpmAuthCommand.Password().Write(writer);
        writer.EndSized32(auth);
        var data = writer.BeginSized();
        writer.WriteBytes([0xAA, 0xBB]);
        writer.EndSized(data);
        writer.WriteUInt16((ushort)TpmAlgorithm.Sha256);
        writer.EndMessage();

        Assert.Equal(
            "8002" + "00000021" + "00000155" + "81000100" + "00000009" + "40000009" + "0000" + "01" + "0000" + "0002AABB" + "000B",
            Convert.ToHexString(writer.WrittenSpan));
    }

    [Theory]
    [InlineData("no sessions, one handle, 2-byte parameter", "8001" + "00000010" + "00000000" + "80000001" + "ABCD", 1, "ABCD")]
    [InlineData("sessions: parameterSize bounds the parameters; auth area follows", "8002" + "00000019" + "00000000" + "00000002" + "1234" + "0000" + "01" + "0000" + "00000000", 0, "1234")]
    public void OpenParameters_FindsTheParameterArea(string name, string hex, int handles, string parameters)
    {
        Span<uint> handleValues = stackalloc uint[handles];
        var reader = TpmCommands.OpenParameters(Convert.FromHexString(hex), handleValues, out _);
        Assert.Equal(parameters, Convert.ToHexString(reader.ReadRemaining()));
        Assert.NotNull(name);
    }

    [Theory]
    [InlineData("size field larger than the buffer (truncated response)", "8001" + "00000020" + "00000000" + "0000")]
    [InlineData("size field smaller than the buffer (oversized response)", "8001" + "0000000A" + "00000000" + "0000")]
    [InlineData("header cut short", "800100")]
    [InlineData("parameterSize beyond the response", "8002" + "00000010" + "00000000" + "000000FF" + "0000")]
    [InlineData("unknown tag", "1234" + "0000000A" + "00000000")]
    public void OpenParameters_MalformedResponse_ThrowsTpmFormatException(string name, string hex)
    {
        var bytes = Convert.FromHexString(hex);
        var error = Assert.Throws<TpmFormatException>(() => TpmCommands.OpenParameters(bytes, [], out _));
        Assert.False(string.IsNullOrEmpty(error.Message), name);
    }

    [Theory]
    [InlineData("EK-sized response header", "8001" + "00000140" + "00000000", 320)]
    [InlineData("smallest message", "8001" + "0000000A" + "00000000", 10)]
    public void PeekSize_ReadsTheHeaderSize(string name, string hex, int expected)
        => Assert.True(expected == TpmMessage.PeekSize(Convert.FromHexString(hex), 8192), name);

    [Theory]
    [InlineData("below the header size", "8001" + "00000009" + "00000000")]
    [InlineData("above the maximum", "8001" + "00100000" + "00000000")]
    public void PeekSize_ImplausibleSize_ThrowsTpmFormatException(string name, string hex)
        => Assert.False(string.IsNullOrEmpty(Assert.Throws<TpmFormatException>(() => TpmMessage.PeekSize(Convert.FromHexString(hex), 8192)).Message), name);
}

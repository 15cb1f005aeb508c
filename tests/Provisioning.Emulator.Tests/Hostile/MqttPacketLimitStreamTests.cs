using Provisioning.Emulator.Mqtt;

namespace Provisioning.Emulator.Tests.Hostile;

/// <summary>The packet cap follows the MQTT framing of what it reads (hex golden vectors) and lifts only after CONNACK 0.</summary>
public sealed class MqttPacketLimitStreamTests
{
    [Theory]
    [InlineData("10 7F", false)]               // 127 bytes: under the 128-byte cap
    [InlineData("10 80 01", false)]            // 128: at the cap
    [InlineData("10 81 01", true)]             // 129: over
    [InlineData("30 FF FF FF 7F", true)]       // 256 MB
    [InlineData("C0 00 C0 00 10 80 01", false)] // two PINGREQs, then 128
    [InlineData("30 80 80 80 80 01", true)]    // five length bytes: malformed (and over)
    public void BeforeConnack_PacketsOverTheCapThrowAtTheirHeader(string hex, bool throws)
    {
        using var stream = Limit(hex, before: 128, after: 1 << 20);
        var read = () => Drain(stream);
        if (throws)
        {
            Assert.Throws<IOException>(read);
        }
        else
        {
            read();
        }
    }

    [Fact]
    public void AfterASuccessfulConnack_TheAuthenticatedCapApplies()
    {
        using var stream = Limit("30 80 08", before: 128, after: 2048);
        stream.Write([0x20, 0x02, 0x00, 0x00]);
        Assert.True(stream.IsAuthenticated);
        Drain(stream);
    }

    [Fact]
    public void AfterARefusingConnack_TheCapStaysSmall()
    {
        using var stream = Limit("30 80 08", before: 128, after: 2048);
        stream.Write([0x20, 0x02, 0x00, 0x05]);
        Assert.False(stream.IsAuthenticated);
        Assert.Throws<IOException>(() => Drain(stream));
    }

    private static MqttPacketLimitStream Limit(string hex, int before, int after)
    {
        var header = Convert.FromHexString(hex.Replace(" ", "", StringComparison.Ordinal));
        return new MqttPacketLimitStream(new MemoryStream([.. header, .. new byte[before + 8]], writable: false) is var input
            ? new DuplexTestStream(input) : null!, before, after);
    }

    private static void Drain(Stream stream)
    {
        var buffer = new byte[3];
        while (stream.Read(buffer, 0, buffer.Length) > 0)
        {
        }
    }

    /// <summary>Reads from a fixed input, swallows writes.</summary>
    private sealed class DuplexTestStream(Stream input) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => input.Read(buffer, offset, count);

        public override void Write(byte[] buffer, int offset, int count)
        {
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}

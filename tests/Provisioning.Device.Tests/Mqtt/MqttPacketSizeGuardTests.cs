using Provisioning.Device.Transport.Mqtt;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>The received-packet size limit (256 KiB, dps-protocol.md §5), over the MQTT 3.1.1 fixed header (§2.2.3).</summary>
public sealed class MqttPacketSizeGuardTests
{
    [Theory]
    [InlineData("CONNACK", "20020000")]
    [InlineData("CONNACK then SUBACK in one read", "20020000" + "9003000101")]
    [InlineData("PINGRESP, zero length", "D000")]
    [InlineData("PUBLISH header of exactly 256 KiB", "30808010")]
    [InlineData("two-byte length 321", "30C102")]
    public void Observe_WhenPacketsAreWithinTheLimit_Accepts(string name, string hex)
    {
        _ = name;
        var guard = new MqttPacketSizeGuard();

        guard.Observe(Convert.FromHexString(hex));
    }

    [Theory]
    [InlineData("one byte over 256 KiB", "30818010")]
    [InlineData("the largest MQTT length", "30FFFFFF7F")]
    [InlineData("a five-byte length", "30FFFFFFFF01")]
    [InlineData("oversized after a whole packet", "20020000" + "30818010")]
    public void Observe_WhenAPacketIsOverTheLimitOrMalformed_ThrowsNonTransient(string name, string hex)
    {
        _ = name;
        var guard = new MqttPacketSizeGuard();

        ProvisioningException ex = Assert.Throws<ProvisioningException>(() => guard.Observe(Convert.FromHexString(hex)));

        Assert.False(ex.IsTransient);
        Assert.StartsWith("The provisioning service sent an MQTT packet that was refused", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Observe_FollowsPacketsSplitAcrossReadsAtAnyByte()
    {
        // A 200-byte PUBLISH body, then an oversized header, delivered one byte at a time.
        byte[] stream = [.. Convert.FromHexString("30C801"), .. new byte[200], .. Convert.FromHexString("30818010")];
        var guard = new MqttPacketSizeGuard();

        for (int i = 0; i < stream.Length - 1; i++)
        {
            guard.Observe(stream.AsSpan(i, 1));
        }

        Assert.Throws<ProvisioningException>(() => guard.Observe(stream.AsSpan(stream.Length - 1, 1)));
    }

    [Fact]
    public void Observe_DoesNotMistakeBodyBytesForHeaders()
    {
        // The body is full of bytes that would read as a huge length if taken for a header.
        byte[] stream = [.. Convert.FromHexString("3004"), 0xFF, 0xFF, 0xFF, 0x7F, .. Convert.FromHexString("20020000")];
        var guard = new MqttPacketSizeGuard();

        guard.Observe(stream);
    }
}

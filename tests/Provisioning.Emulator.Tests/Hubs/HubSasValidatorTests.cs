using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Emulator.Tests.Hubs;

public sealed class HubSasValidatorTests
{
    private const string Hub = "h.azure-devices.net";
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly byte[] Key = Enumerable.Range(1, 32).Select(i => (byte)i).ToArray();
    private static readonly HubDevice Device = new(Hub, "dev 1", HubCredentialKind.Tpm, Key, null, null, true, null);

    /// <summary>Signs like dps-protocol.md §8: sr = enc(hub/devices/enc(id)), sig over "sr\nse".</summary>
    internal static string Token(string audienceHub, string deviceId, byte[] key, DateTimeOffset expiry)
    {
        var sr = Uri.EscapeDataString($"{audienceHub}/devices/{Uri.EscapeDataString(deviceId)}");
        var se = expiry.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var sig = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{sr}\n{se}")));
        return $"SharedAccessSignature sr={sr}&sig={Uri.EscapeDataString(sig)}&se={se}";
    }

    [Fact]
    public void Validate_GoodToken_IsAccepted_WithItsExpiry()
    {
        var expiry = Now.AddHours(1);
        Assert.Equal(SasRefusal.None, HubSasValidator.Validate(Token(Hub, "dev 1", Key, expiry), Hub, "dev 1", Device, Now, TimeSpan.Zero, out var expiresAt));
        Assert.Equal(expiry, expiresAt);
    }

    [Fact]
    public void Validate_SecondaryKey_IsAccepted()
    {
        var other = RandomNumberGenerator.GetBytes(32);
        var device = Device with { SecondaryKey = other };
        Assert.Equal(SasRefusal.None, HubSasValidator.Validate(Token(Hub, "dev 1", other, Now.AddHours(1)), Hub, "dev 1", device, Now, TimeSpan.Zero, out _));
    }

    [Theory]
    [InlineData("Expired", "expired")]
    [InlineData("Forged", "forged")]
    [InlineData("Wrong audience: other hub", "hub")]
    [InlineData("Wrong audience: other device", "device")]
    public void Validate_BadToken_IsRefused(string name, string kind)
    {
        var (token, expected) = kind switch
        {
            "expired" => (Token(Hub, "dev 1", Key, Now.AddSeconds(-1)), SasRefusal.Expired),
            "forged" => (Token(Hub, "dev 1", RandomNumberGenerator.GetBytes(32), Now.AddHours(1)), SasRefusal.BadSignature),
            "hub" => (Token("other.azure-devices.net", "dev 1", Key, Now.AddHours(1)), SasRefusal.WrongAudience),
            _ => (Token(Hub, "dev 2", Key, Now.AddHours(1)), SasRefusal.WrongAudience),
        };
        Assert.NotNull(name);
        Assert.Equal(expected, HubSasValidator.Validate(token, Hub, "dev 1", Device, Now, TimeSpan.Zero, out _));
    }

    [Theory]
    [InlineData("Device id encoded once more, upper-case escapes (§8 TPM form)", "h.azure-devices.net%2Fdevices%2Fdev%25201")]
    [InlineData("Device id encoded once more, lower-case escapes (C SDK)", "h.azure-devices.net%2fdevices%2fdev%25201")]
    [InlineData("Device id not encoded again (§3 symmetric-key form)", "h.azure-devices.net%2Fdevices%2Fdev%201")]
    [InlineData("Host name in another case", "H.Azure-Devices.NET%2Fdevices%2Fdev%25201")]
    public void Validate_AudienceForms_AreAccepted(string name, string sr)
    {
        Assert.True(HubSasValidator.Validate(Sign(sr, Key, Now.AddHours(1)), Hub, "dev 1", Device, Now, TimeSpan.Zero, out _) == SasRefusal.None, name);
    }

    [Theory]
    [InlineData("Device id in another case", "h.azure-devices.net%2Fdevices%2FDev%25201", "")]
    [InlineData("Device id as a prefix", "h.azure-devices.net%2Fdevices%2Fdev%25201%2Fmodules%2Fm", "")]
    [InlineData("A policy token (skn)", "h.azure-devices.net%2Fdevices%2Fdev%25201", "&skn=iothubowner")]
    public void Validate_OtherAudiences_AreWrongAudience(string name, string sr, string suffix)
    {
        var token = Sign(sr, Key, Now.AddHours(1)) + suffix;
        Assert.True(HubSasValidator.Validate(token, Hub, "dev 1", Device, Now, TimeSpan.Zero, out _) == SasRefusal.WrongAudience, name);
    }

    [Theory]
    [InlineData("Expired within the skew", 59, true)]
    [InlineData("Expired beyond the skew", 61, false)]
    public void Validate_AroundExpiry_HonoursTheSkew(string name, int secondsPastExpiry, bool accepted)
    {
        var expected = accepted ? SasRefusal.None : SasRefusal.Expired;
        var token = Token(Hub, "dev 1", Key, Now);
        var refusal = HubSasValidator.Validate(token, Hub, "dev 1", Device, Now.AddSeconds(secondsPastExpiry), TimeSpan.FromMinutes(1), out var until);

        Assert.True(refusal == expected, name);
        Assert.Equal(expected == SasRefusal.None ? Now.AddMinutes(1) : default, until);
    }

    [Fact]
    public void Validate_WithTheLastRepresentableExpiryAndASkew_IsAccepted()
    {
        // se at DateTimeOffset.MaxValue: adding the skew must not overflow into an exception.
        var token = Sign("h.azure-devices.net%2Fdevices%2Fdev%25201", Key, DateTimeOffset.FromUnixTimeSeconds(253402300799));

        Assert.Equal(SasRefusal.None, HubSasValidator.Validate(token, Hub, "dev 1", Device, Now, TimeSpan.FromMinutes(1), out var until));
        Assert.Equal(DateTimeOffset.MaxValue, until);
    }

    private static string Sign(string sr, byte[] key, DateTimeOffset expiry)
    {
        var se = expiry.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var sig = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes($"{sr}\n{se}")));
        return $"SharedAccessSignature sr={sr}&sig={Uri.EscapeDataString(sig)}&se={se}";
    }

    [Theory]
    [InlineData("No prefix", "sr=a&sig=b&se=1")]
    [InlineData("Missing se", "SharedAccessSignature sr=a&sig=b")]
    [InlineData("Non-numeric se", "SharedAccessSignature sr=h.azure-devices.net%2Fdevices%2Fdev%25201&sig=b&se=x")]
    [InlineData("Bad base64", "SharedAccessSignature sr=h.azure-devices.net%2Fdevices%2Fdev%25201&sig=%%%&se=1")]
    [InlineData("Empty", "")]
    public void Validate_Malformed_IsMalformed(string name, string token)
    {
        Assert.NotNull(name);
        Assert.Equal(SasRefusal.Malformed, HubSasValidator.Validate(token, Hub, "dev 1", Device, Now, TimeSpan.Zero, out _));
    }
}

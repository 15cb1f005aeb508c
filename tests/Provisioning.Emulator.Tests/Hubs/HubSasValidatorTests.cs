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
        Assert.Equal(SasRefusal.None, HubSasValidator.Validate(Token(Hub, "dev 1", Key, expiry), Hub, "dev 1", Device, Now, out var expiresAt));
        Assert.Equal(expiry, expiresAt);
    }

    [Fact]
    public void Validate_SecondaryKey_IsAccepted()
    {
        var other = RandomNumberGenerator.GetBytes(32);
        var device = Device with { SecondaryKey = other };
        Assert.Equal(SasRefusal.None, HubSasValidator.Validate(Token(Hub, "dev 1", other, Now.AddHours(1)), Hub, "dev 1", device, Now, out _));
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
        Assert.Equal(expected, HubSasValidator.Validate(token, Hub, "dev 1", Device, Now, out _));
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
        Assert.Equal(SasRefusal.Malformed, HubSasValidator.Validate(token, Hub, "dev 1", Device, Now, out _));
    }
}

using System.Security.Cryptography;
using System.Text;

namespace Provisioning.Device.Tests.Integration;

/// <summary>Checks a hub SAS token the way the hub does: HMAC-SHA256 over <c>sr + "\n" + se</c> with the key DPS stored.</summary>
internal static class HubSas
{
    public static bool Verifies(string token, byte[] key)
    {
        const string Prefix = "SharedAccessSignature ";
        Assert.StartsWith(Prefix, token, StringComparison.Ordinal);
        var fields = token[Prefix.Length..].Split('&').Select(p => p.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);
        byte[] expected = HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(fields["sr"] + "\n" + fields["se"]));
        byte[] actual = Convert.FromBase64String(Uri.UnescapeDataString(fields["sig"]));
        return CryptographicOperations.FixedTimeEquals(expected, actual);
    }

    /// <summary>Signs a hub token with the attestation and checks it against the key the emulator's hub registry holds.</summary>
    public static async Task AssertSignsForHubAsync(EmulatorSession session, ProvisioningAttestation attestation, DeviceRegistrationResult result)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var device = await session.Dps.HubRegistry.FindAsync(result.AssignedHub!, result.DeviceId!, ct);
        Assert.NotNull(device);
        Assert.NotNull(device.PrimaryKey);
        string token = await attestation.CreateSasTokenAsync($"{result.AssignedHub}/devices/{result.DeviceId}", DateTimeOffset.UtcNow.AddHours(1), cancellationToken: ct);
        Assert.True(Verifies(token, device.PrimaryKey), "The hub SAS does not verify with the key the emulator stored for the device.");
    }
}

using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Provisioning.Emulator.Allocation;

/// <summary>The built-in allocation policies over the candidate linked hubs.</summary>
internal static class HubAllocator
{
    /// <summary>
    /// <c>hashed</c>: evenly weighted, stable per registration id (SHA-256 of the lower-cased id, modulo the hub count).
    /// </summary>
    public static LinkedHub Hashed(string registrationId, IReadOnlyList<LinkedHub> candidates)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(Encoding.UTF8.GetBytes(registrationId.ToLowerInvariant()), hash);
        var value = BinaryPrimitives.ReadUInt64BigEndian(hash);
        return candidates[(int)(value % (ulong)candidates.Count)];
    }

    /// <summary>
    /// <c>geoLatency</c>: a hub in the device's region (the lowest latency the emulator can know of); hashed among the
    /// candidates when no hub is in that region or the region is unknown.
    /// </summary>
    public static LinkedHub GeoLatency(string registrationId, string? deviceRegion, IReadOnlyList<LinkedHub> candidates)
    {
        if (deviceRegion is not null)
        {
            var local = candidates.Where(h => string.Equals(h.Region, deviceRegion, StringComparison.OrdinalIgnoreCase)).ToList();
            if (local.Count > 0)
            {
                return Hashed(registrationId, local);
            }
        }

        return Hashed(registrationId, candidates);
    }
}

using System.Buffers.Binary;

namespace Provisioning.Device.Tpm.Tests.Differential;

/// <summary>Where the six size-prefixed parts of an activation blob start (dps-protocol.md §2.3).</summary>
internal static class BlobParts
{
    /// <summary>(offset of the size field, size of the contents) of each part.</summary>
    public static List<(int Offset, int Size)> Offsets(byte[] blob)
    {
        var parts = new List<(int Offset, int Size)>();
        for (var offset = 0; offset < blob.Length;)
        {
            var size = BinaryPrimitives.ReadUInt16BigEndian(blob.AsSpan(offset));
            parts.Add((offset, size));
            offset += 2 + size;
        }

        return parts;
    }
}

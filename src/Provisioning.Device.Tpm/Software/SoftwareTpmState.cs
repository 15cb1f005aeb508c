using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>What a software TPM keeps across power cycles: hierarchy seeds, the primary keys made from them, persistent
/// objects and NV indices.</summary>
/// <remarks>
/// A real TPM derives a primary key from the hierarchy's primary seed and the template (Part 1 §26.3), so the same TPM gives
/// the same EK for the same template. Here the RSA key is generated once per (hierarchy, SHA-256 of the template) and stored,
/// which keeps that property without a prime-generation DRBG; the storage seed of a primary is derived from the hierarchy seed
/// with KDFa. The binary form is a versioned list of TPM2B fields, written with the same marshalling as commands.
/// </remarks>
internal sealed class SoftwareTpmState
{
    private const uint Magic = 0x5354_504D; // "STPM"
    private const ushort Version = 1;

    public byte[] EndorsementSeed { get; private init; } = [];

    public byte[] OwnerSeed { get; private init; } = [];

    /// <summary>Primary RSA keys (PKCS#1 DER) by hierarchy handle and template digest.</summary>
    public Dictionary<(uint Hierarchy, string TemplateDigest), byte[]> Primaries { get; } = [];

    public SortedDictionary<uint, SoftwareTpmObject> Persistent { get; } = [];

    public SortedDictionary<uint, (TpmNvPublic Public, byte[] Data)> NvIndices { get; } = [];

    public static SoftwareTpmState CreateNew() => new()
    {
        EndorsementSeed = RandomNumberGenerator.GetBytes(32),
        OwnerSeed = RandomNumberGenerator.GetBytes(32),
    };

    public byte[] SeedOf(uint hierarchy) => hierarchy switch
    {
        TpmHandles.Endorsement => EndorsementSeed,
        TpmHandles.Owner => OwnerSeed,
        _ => throw new ArgumentOutOfRangeException(nameof(hierarchy)),
    };

    /// <summary>The state as bytes (secret: the caller zeroes them).</summary>
    public byte[] Serialize()
    {
        using var writer = new TpmWriter(4096);
        writer.WriteUInt32(Magic);
        writer.WriteUInt16(Version);
        writer.WriteSized(EndorsementSeed);
        writer.WriteSized(OwnerSeed);
        writer.WriteUInt16((ushort)Primaries.Count);
        foreach (var ((hierarchy, digest), key) in Primaries.OrderBy(p => p.Key.Hierarchy).ThenBy(p => p.Key.TemplateDigest, StringComparer.Ordinal))
        {
            writer.WriteUInt32(hierarchy);
            writer.WriteSized(Convert.FromHexString(digest));
            writer.WriteSized(key);
        }

        writer.WriteUInt16((ushort)Persistent.Count);
        foreach (var (handle, obj) in Persistent)
        {
            writer.WriteUInt32(handle);
            writer.WriteUInt32(obj.Hierarchy);
            writer.WriteSized(obj.PublicArea);
            writer.WriteSized(obj.QualifiedName);
            writer.WriteSized(obj.AuthValue);
            writer.WriteSized(obj.SeedValue);
            var rsa = obj.RsaKey?.Export();
            try
            {
                writer.WriteSized(rsa ?? obj.HmacKey ?? obj.SigningPrivate ?? []);
            }
            finally
            {
                if (rsa is not null)
                {
                    CryptographicOperations.ZeroMemory(rsa);
                }
            }
        }

        writer.WriteUInt16((ushort)NvIndices.Count);
        foreach (var (_, (nvPublic, data)) in NvIndices)
        {
            nvPublic.WriteSized(writer);
            writer.WriteSized(data);
        }

        return writer.ToArray();
    }

    /// <summary>Whether a persisted object is a signing key (its sensitive part is a prime or scalar, not a PKCS#1 key).</summary>
    private static bool IsSigningKey(TpmPublic pub) =>
        pub.Attributes.HasFlag(TpmObjectAttributes.Sign) && !pub.Attributes.HasFlag(TpmObjectAttributes.Decrypt);

    /// <summary>Reads bytes written by <see cref="Serialize"/>.</summary>
    /// <exception cref="TpmFormatException">The bytes are not a software-TPM state of this version.</exception>
    public static SoftwareTpmState Deserialize(ReadOnlySpan<byte> bytes)
    {
        var reader = new TpmReader(bytes);
        if (reader.ReadUInt32() != Magic || reader.ReadUInt16() != Version)
        {
            throw new TpmFormatException("The file is not a software TPM state of version 1.");
        }

        var state = new SoftwareTpmState
        {
            EndorsementSeed = reader.ReadSized(64, "endorsement seed").ToArray(),
            OwnerSeed = reader.ReadSized(64, "owner seed").ToArray(),
        };
        for (int i = 0, n = reader.ReadUInt16(); i < n; i++)
        {
            var hierarchy = reader.ReadUInt32();
            var digest = Convert.ToHexString(reader.ReadSized(64, "template digest"));
            state.Primaries[(hierarchy, digest)] = reader.ReadSized(4096, "primary key").ToArray();
        }

        for (int i = 0, n = reader.ReadUInt16(); i < n; i++)
        {
            var handle = reader.ReadUInt32();
            var hierarchy = reader.ReadUInt32();
            var area = reader.ReadSized(1024, "TPMT_PUBLIC").ToArray();
            var publicReader = new TpmReader(area);
            var pub = TpmPublic.Read(ref publicReader);
            publicReader.EnsureAtEnd("TPMT_PUBLIC");
            var qualifiedName = reader.ReadSized(66, "qualified name").ToArray();
            var auth = reader.ReadSized(64, "authValue").ToArray();
            var seed = reader.ReadSized(64, "seedValue").ToArray();
            var sensitive = reader.ReadSized(4096, "sensitive").ToArray();
            state.Persistent[handle] = new SoftwareTpmObject
            {
                Public = pub,
                PublicArea = area,
                Name = SoftwareTpmObject.NameOf(area),
                QualifiedName = qualifiedName,
                Hierarchy = hierarchy,
                AuthValue = auth,
                SeedValue = seed,
                RsaKey = pub.Type == TpmAlgorithm.Rsa && !IsSigningKey(pub) ? SoftwareTpmRsaKey.Import(sensitive) : null,
                HmacKey = pub.Type == TpmAlgorithm.KeyedHash ? sensitive : null,
                SigningPrivate = IsSigningKey(pub) && pub.Type is TpmAlgorithm.Rsa or TpmAlgorithm.Ecc ? sensitive : null,
            };
        }

        for (int i = 0, n = reader.ReadUInt16(); i < n; i++)
        {
            var nvPublic = TpmNvPublic.ReadSized(ref reader);
            state.NvIndices[nvPublic.Index] = (nvPublic, reader.ReadSized(4096, "NV data").ToArray());
        }

        reader.EnsureAtEnd("software TPM state");
        return state;
    }
}

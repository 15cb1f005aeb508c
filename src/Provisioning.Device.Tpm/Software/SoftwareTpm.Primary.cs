using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>TPM2_CreatePrimary for RSA-2048 storage keys (the EK and SRK templates).</summary>
/// <remarks>TPM 2.0 Library Part 3 §24.1; the public area returned is the template with the modulus as unique, exactly as a
/// TPM emits it (dps-protocol.md §2.1–2.2). The same hierarchy and template give the same key (see <see cref="SoftwareTpmState"/>).</remarks>
internal sealed partial class SoftwareTpm
{
    private static ReadOnlySpan<byte> SeedLabel => "STORAGE SEED\0"u8;

    private static ReadOnlySpan<byte> ProofLabel => "PROOF\0"u8;

    private uint? CreatePrimary(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var hierarchy = context.Handles[0];
        RequireHierarchy(hierarchy, 1);
        Authorize(context, 1, GetEntity(hierarchy, 1));

        var sensitiveCreate = new TpmReader(Sized(ref parameters, context, 1, ushort.MaxValue));
        var userAuth = SoftwareTpmWrapping.ReadSized(ref sensitiveCreate, SHA256.HashSizeInBytes).ToArray();
        var data = SoftwareTpmWrapping.ReadSized(ref sensitiveCreate, 128);
        if (!sensitiveCreate.IsAtEnd || !data.IsEmpty)
        {
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Size, 1);
        }

        var templateBytes = Sized(ref parameters, context, 2, ushort.MaxValue).ToArray();
        var templateReader = new TpmReader(templateBytes);
        var template = TpmPublic.Read(ref templateReader);
        templateReader.EnsureAtEnd("TPMT_PUBLIC");
        var outsideInfo = Sized(ref parameters, context, 3, 64).ToArray();
        context.Parameter = 4;
        using var pcrSelection = new TpmWriter(64);
        var selections = parameters.ReadUInt32();
        if (selections > 16)
        {
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Size, 4);
        }

        pcrSelection.WriteUInt32(selections);
        for (var i = 0; i < selections; i++)
        {
            pcrSelection.WriteUInt16(parameters.ReadUInt16());
            var bits = parameters.ReadByte();
            pcrSelection.WriteByte(bits);
            pcrSelection.WriteBytes(parameters.ReadBytes(bits));
        }

        context.Parameter = 0;
        CheckStorageTemplate(template);

        var templateDigest = Convert.ToHexString(SHA256.HashData(templateBytes));
        var key = LoadOrGeneratePrimary(hierarchy, templateDigest);
        var seed = new byte[SHA256.HashSizeInBytes];
        SoftwareTpmKdf.KdfA(State.SeedOf(hierarchy), SeedLabel, Convert.FromHexString(templateDigest), default, seed);
        var pub = new TpmPublic
        {
            Type = template.Type,
            NameAlgorithm = template.NameAlgorithm,
            Attributes = template.Attributes,
            AuthPolicy = template.AuthPolicy,
            Symmetric = template.Symmetric,
            Scheme = template.Scheme,
            SchemeHash = template.SchemeHash,
            KeyBits = template.KeyBits,
            Exponent = template.Exponent,
            Unique = key.Modulus.ToArray(),
        };
        var area = pub.ToBytes();
        var name = SoftwareTpmObject.NameOf(area);
        var handle = AddTransient(new SoftwareTpmObject
        {
            Public = pub,
            PublicArea = area,
            Name = name,
            QualifiedName = SoftwareTpmObject.Qualify(SoftwareTpmObject.HandleName(hierarchy), name),
            Hierarchy = hierarchy,
            AuthValue = userAuth,
            SeedValue = seed,
            RsaKey = key,
        });

        pub.WriteSized(output);
        WriteCreationData(output, hierarchy, name, outsideInfo, pcrSelection.WrittenSpan, selections != 0);
        output.WriteSized(name);
        return handle;
    }

    private static void CheckStorageTemplate(TpmPublic template)
    {
        const int p = 2;
        if (template.Type != TpmAlgorithm.Rsa)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Type, p);
        }

        if (template.NameAlgorithm != TpmAlgorithm.Sha256)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Hash, p);
        }

        if (template.KeyBits != 2048)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.KeySize, p);
        }

        if (template.Exponent is not (0 or 65537))
        {
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Value, p);
        }

        var required = TpmObjectAttributes.Restricted | TpmObjectAttributes.Decrypt | TpmObjectAttributes.SensitiveDataOrigin;
        if ((template.Attributes & required) != required || template.Attributes.HasFlag(TpmObjectAttributes.Sign))
        {
            // Only storage keys are modelled: signing and unrestricted RSA keys are not part of the DPS flow.
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Attributes, p);
        }

        if (template.Symmetric != TpmSymmetricDefinition.Aes128Cfb)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Symmetric, p);
        }

        if (template.Scheme != TpmAlgorithm.Null)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Scheme, p);
        }
    }

    private SoftwareTpmRsaKey LoadOrGeneratePrimary(uint hierarchy, string templateDigest)
    {
        if (State.Primaries.TryGetValue((hierarchy, templateDigest), out var stored))
        {
            return SoftwareTpmRsaKey.Import(stored);
        }

        var key = SoftwareTpmRsaKey.Generate();
        State.Primaries[(hierarchy, templateDigest)] = key.Export();
        Persist();
        return key;
    }

    /// <summary>creationData, creationHash and creationTicket (Part 2 §15.1 TPMS_CREATION_DATA, §10.7.3 TPMT_TK_CREATION).</summary>
    private void WriteCreationData(TpmWriter output, uint hierarchy, byte[] name, byte[] outsideInfo, ReadOnlySpan<byte> pcrSelection, bool anyPcr)
    {
        using var creation = new TpmWriter(256);
        creation.WriteBytes(pcrSelection);

        // PCRs are not modelled: all read as zeros, so a selection's digest is that of an empty concatenation.
        creation.WriteSized(anyPcr ? SHA256.HashData([]) : []);
        creation.WriteByte(0x01); // TPMA_LOCALITY: locality 0
        creation.WriteUInt16((ushort)TpmAlgorithm.Null); // a primary's parent is a hierarchy: no name algorithm
        creation.WriteSized(SoftwareTpmObject.HandleName(hierarchy));
        creation.WriteSized(SoftwareTpmObject.HandleName(hierarchy));
        creation.WriteSized(outsideInfo);

        output.WriteSized(creation.WrittenSpan);
        var creationHash = SHA256.HashData(creation.WrittenSpan);
        output.WriteSized(creationHash);

        // The ticket proves the TPM made this object; its HMAC key is a proof value derived from the hierarchy seed.
        Span<byte> proof = stackalloc byte[SHA256.HashSizeInBytes];
        SoftwareTpmKdf.KdfA(State.SeedOf(hierarchy), ProofLabel, default, default, proof);
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, proof);
        CryptographicOperations.ZeroMemory(proof);
        hmac.AppendData([0x80, 0x21]);
        hmac.AppendData(name);
        hmac.AppendData(creationHash);
        output.WriteUInt16((ushort)TpmStructureTag.Creation);
        output.WriteUInt32(hierarchy);
        output.WriteSized(hmac.GetHashAndReset());
    }
}

using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>Object commands: ReadPublic, EvictControl, FlushContext, Import, Load.</summary>
/// <remarks>TPM 2.0 Library Part 3 §12.4 (ReadPublic), §28.5 (EvictControl), §28.4 (FlushContext), §13.3 (Import), §12.2 (Load).
/// Only keyed-hash objects can be imported and loaded: the DPS identity key is one (dps-protocol.md §2.3).</remarks>
internal sealed partial class SoftwareTpm
{
    private const int MaxPrivateSize = 2048;
    private const int MaxEncryptedSecretSize = 512;
    private static ReadOnlySpan<byte> DuplicateLabel => "DUPLICATE\0"u8;

    private uint? ReadPublic(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var obj = GetObject(context.Handles[0], 1);
        if (obj.Sequence is not null)
        {
            throw SoftwareTpmFault.OnHandle(SoftwareTpmRc.Type, 1);
        }

        output.WriteSized(obj.PublicArea);
        output.WriteSized(obj.Name);
        output.WriteSized(obj.QualifiedName);
        return null;
    }

    private uint? EvictControl(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var auth = context.Handles[0];
        if (auth != TpmHandles.Owner)
        {
            throw SoftwareTpmFault.OnHandle(SoftwareTpmRc.Hierarchy, 1);
        }

        var objectHandle = context.Handles[1];
        var obj = GetObject(objectHandle, 2);
        Authorize(context, 1, GetEntity(auth, 1));
        context.Parameter = 1;
        var persistentHandle = parameters.ReadUInt32();
        context.Parameter = 0;
        if (persistentHandle is < 0x8100_0000 or > 0x817F_FFFF)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Range, 1); // not in the owner's persistent range
        }

        if (TpmHandles.TypeOf(objectHandle) == TpmHandles.PersistentType)
        {
            if (persistentHandle != objectHandle)
            {
                throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Range, 1);
            }

            State.Persistent.Remove(objectHandle);
            Persist();
            obj.Wipe();
            return null;
        }

        if (obj.Sequence is not null)
        {
            throw SoftwareTpmFault.OnHandle(SoftwareTpmRc.Type, 2);
        }

        if (State.Persistent.ContainsKey(persistentHandle))
        {
            throw new SoftwareTpmFault(SoftwareTpmRc.NvDefined);
        }

        State.Persistent[persistentHandle] = new SoftwareTpmObject
        {
            Public = obj.Public,
            PublicArea = obj.PublicArea,
            Name = obj.Name,
            QualifiedName = obj.QualifiedName,
            Hierarchy = obj.Hierarchy,
            AuthValue = obj.AuthValue.ToArray(),
            SeedValue = obj.SeedValue.ToArray(),
            RsaKey = obj.RsaKey,
            HmacKey = obj.HmacKey?.ToArray(),
            SigningPrivate = obj.SigningPrivate?.ToArray(),
        };
        Persist();
        return null;
    }

    private uint? FlushContext(Context context, ref TpmReader parameters, TpmWriter output)
    {
        context.Parameter = 1;
        var handle = parameters.ReadUInt32();
        context.Parameter = 0;
        if (_transient.Remove(handle, out var obj))
        {
            obj.Wipe();
            return null;
        }

        if (!_sessions.Remove(handle))
        {
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Handle, 1);
        }

        return null;
    }

    private uint? Load(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var parent = GetObject(context.Handles[0], 1);
        Authorize(context, 1, GetEntity(context.Handles[0], 1));
        var inPrivate = Sized(ref parameters, context, 1, MaxPrivateSize);
        var (pub, area) = ReadPublicParameter(ref parameters, context, 2);
        if (!parent.IsStorageParent)
        {
            throw SoftwareTpmFault.OnHandle(SoftwareTpmRc.Type, 1);
        }

        var name = SoftwareTpmObject.NameOf(area); // the bytes as sent, not as re-marshalled
        byte[] sensitive;
        try
        {
            sensitive = SoftwareTpmWrapping.PrivateToSensitive(inPrivate, name, parent.SeedValue);
        }
        catch (SoftwareTpmFault fault)
        {
            throw SoftwareTpmFault.OnParameter(fault.ResponseCode, 1);
        }

        SoftwareTpmObject loaded;
        try
        {
            loaded = pub.Type is TpmAlgorithm.Rsa or TpmAlgorithm.Ecc
                ? CreateSigningObject(pub, area, name, parent, sensitive, publicParameter: 2, sensitiveParameter: 1)
                : CreateKeyedHashObject(pub, area, name, parent, sensitive, publicParameter: 2, sensitiveParameter: 1);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sensitive);
        }

        var handle = AddTransient(loaded);
        output.WriteSized(name);
        return handle;
    }

    private uint? Import(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var parent = GetObject(context.Handles[0], 1);
        Authorize(context, 1, GetEntity(context.Handles[0], 1));
        var encryptionKey = Sized(ref parameters, context, 1, 64);
        var (pub, area) = ReadPublicParameter(ref parameters, context, 2);
        var duplicate = Sized(ref parameters, context, 3, MaxPrivateSize);
        var inSymSeed = Sized(ref parameters, context, 4, MaxEncryptedSecretSize);
        context.Parameter = 5;
        var symmetric = TpmSymmetricDefinition.Read(ref parameters);
        context.Parameter = 0;

        // Checks in the order of the reference implementation, so each refusal carries the code a TPM gives.
        if ((pub.Attributes & (TpmObjectAttributes.FixedTpm | TpmObjectAttributes.FixedParent)) != 0)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Attributes, 2);
        }

        if (!parent.IsStorageParent)
        {
            throw SoftwareTpmFault.OnHandle(SoftwareTpmRc.Type, 1);
        }

        if (symmetric.Algorithm != TpmAlgorithm.Null)
        {
            if (symmetric != TpmSymmetricDefinition.Aes128Cfb)
            {
                throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Symmetric, 5);
            }

            if (encryptionKey.Length != symmetric.KeyBits / 8)
            {
                throw SoftwareTpmFault.OnParameter(TpmResponseCode.Size, 1);
            }
        }
        else if (!encryptionKey.IsEmpty)
        {
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Size, 1);
        }

        byte[] seed = [];
        if (!inSymSeed.IsEmpty)
        {
            seed = DecryptSeed(parent.RsaKey!, inSymSeed, DuplicateLabel, parameter: 4);
        }

        var name = SoftwareTpmObject.NameOf(area); // the bytes as sent, not as re-marshalled
        byte[] sensitive;
        try
        {
            sensitive = SoftwareTpmWrapping.DuplicateToSensitive(duplicate, name, seed, encryptionKey);
        }
        catch (SoftwareTpmFault fault)
        {
            throw SoftwareTpmFault.OnParameter(fault.ResponseCode, 3);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
        }

        try
        {
            // The parent is fixedTPM, so the object is validated now as Load would (Part 3 §13.3.1).
            CreateKeyedHashObject(pub, area, name, parent, sensitive, publicParameter: 2, sensitiveParameter: 3).Wipe();
            output.WriteSized(SoftwareTpmWrapping.SensitiveToPrivate(sensitive, name, parent.SeedValue));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sensitive);
        }

        return null;
    }

    /// <summary>Decrypts an RSA-OAEP seed with the TPM's label; errors blamed on <paramref name="parameter"/>.</summary>
    private static byte[] DecryptSeed(SoftwareTpmRsaKey key, ReadOnlySpan<byte> encrypted, ReadOnlySpan<byte> label, int parameter)
    {
        byte[]? seed;
        try
        {
            seed = key.DecryptOaep(encrypted, label);
        }
        catch (SoftwareTpmFault fault)
        {
            throw SoftwareTpmFault.OnParameter(fault.ResponseCode, parameter);
        }

        if (seed is null || seed.Length > SHA256.HashSizeInBytes)
        {
            if (seed is not null)
            {
                CryptographicOperations.ZeroMemory(seed);
            }

            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Value, parameter);
        }

        return seed;
    }

    private static (TpmPublic Public, byte[] Area) ReadPublicParameter(ref TpmReader parameters, Context context, int parameter)
    {
        var area = Sized(ref parameters, context, parameter, ushort.MaxValue).ToArray();
        var reader = new TpmReader(area);
        var pub = TpmPublic.Read(ref reader);
        if (!reader.IsAtEnd)
        {
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Size, parameter);
        }

        if (pub.NameAlgorithm != TpmAlgorithm.Sha256)
        {
            // Only SHA-256 names are modelled; refusing here also keeps Name computation on a supported hash.
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Hash, parameter);
        }

        return (pub, area);
    }

    /// <summary>Builds a keyed-hash object from TPMT_SENSITIVE bytes and checks that public and sensitive belong together.</summary>
    /// <remarks>Part 1 §27.2.4 (the unique field of a keyed-hash object is H(seedValue ‖ key)); Part 3 §12.2.1.</remarks>
    private static SoftwareTpmObject CreateKeyedHashObject(TpmPublic pub, byte[] area, byte[] name, SoftwareTpmObject parent, ReadOnlySpan<byte> sensitive, int publicParameter, int sensitiveParameter)
    {
        if (pub.Type != TpmAlgorithm.KeyedHash)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Type, publicParameter);
        }

        if (pub.NameAlgorithm != TpmAlgorithm.Sha256 || (pub.Scheme == TpmAlgorithm.Hmac && pub.SchemeHash != TpmAlgorithm.Sha256))
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Hash, publicParameter);
        }

        byte[] authValue, seedValue, key;
        try
        {
            var reader = new TpmReader(sensitive);
            if (reader.Remaining < 2 || (TpmAlgorithm)reader.ReadUInt16() != TpmAlgorithm.KeyedHash)
            {
                throw new SoftwareTpmFault(SoftwareTpmRc.Type);
            }

            authValue = SoftwareTpmWrapping.ReadSized(ref reader, SHA256.HashSizeInBytes).ToArray();
            seedValue = SoftwareTpmWrapping.ReadSized(ref reader, SHA256.HashSizeInBytes).ToArray();
            key = SoftwareTpmWrapping.ReadSized(ref reader, 128).ToArray();
            if (!reader.IsAtEnd)
            {
                throw new SoftwareTpmFault(TpmResponseCode.Size);
            }
        }
        catch (SoftwareTpmFault fault)
        {
            throw SoftwareTpmFault.OnParameter(fault.ResponseCode, sensitiveParameter);
        }

        Span<byte> unique = stackalloc byte[SHA256.HashSizeInBytes];
        using (var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
        {
            hash.AppendData(seedValue);
            hash.AppendData(key);
            hash.GetHashAndReset(unique);
        }

        if (!CryptographicOperations.FixedTimeEquals(unique, pub.Unique.Span))
        {
            CryptographicOperations.ZeroMemory(key);
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Binding, publicParameter);
        }

        return new SoftwareTpmObject
        {
            Public = pub,
            PublicArea = area,
            Name = name,
            QualifiedName = SoftwareTpmObject.Qualify(parent.QualifiedName, name),
            Hierarchy = parent.Hierarchy,
            AuthValue = authValue,
            SeedValue = seedValue,
            HmacKey = key,
        };
    }
}

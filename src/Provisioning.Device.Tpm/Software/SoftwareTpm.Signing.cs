using System.Numerics;
using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>Signing keys: TPM2_Create of an unrestricted RSA or ECC P-256 signing key under a storage parent, its Load,
/// and TPM2_Sign (Part 3 §12.1, §12.2, §20.2).</summary>
/// <remarks>
/// The subset a device certificate key needs: sign set, restricted and decrypt clear, fixedTPM, fixedParent and
/// sensitiveDataOrigin set; RSA 2048/3072 with exponent 65537 and a NULL, RSASSA or RSAPSS scheme; ECC on NIST P-256 with a
/// NULL or ECDSA scheme and no KDF; SHA-256 digests. The sensitive area is the TPM's (Part 2 §12.3.2.3): the RSA prime p, or
/// the ECC private scalar, protected under the parent exactly as an imported object's is. A restricted key would need a
/// hash-check ticket from TPM2_Hash; none is created here, so TPM2_Sign refuses restricted keys with TPM_RC_TICKET.
/// </remarks>
internal sealed partial class SoftwareTpm
{
    private const uint Ticket = 0x0A0; // TPM_RC_TICKET (Part 2 §6.6.3)
    private const uint CurveCode = 0x0A6; // TPM_RC_CURVE
    private const ushort CreationTag = 0x8021; // TPM_ST_CREATION
    private const ushort HashCheckTag = 0x8024; // TPM_ST_HASHCHECK
    private const uint NullHierarchy = 0x4000_0007;

    private static readonly TpmObjectAttributes RequiredSigningAttributes =
        TpmObjectAttributes.FixedTpm | TpmObjectAttributes.FixedParent | TpmObjectAttributes.SensitiveDataOrigin | TpmObjectAttributes.Sign;

    private uint? Create(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var parent = GetObject(context.Handles[0], 1);
        Authorize(context, 1, GetEntity(context.Handles[0], 1));
        var sensitiveCreate = new TpmReader(Sized(ref parameters, context, 1, 4 + 32 + 128));
        var userAuth = SoftwareTpmWrapping.ReadSized(ref sensitiveCreate, SHA256.HashSizeInBytes).ToArray();
        var data = SoftwareTpmWrapping.ReadSized(ref sensitiveCreate, 128);
        if (!sensitiveCreate.IsAtEnd)
        {
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Size, 1);
        }

        var (template, _) = ReadPublicParameter(ref parameters, context, 2);
        var outsideInfo = Sized(ref parameters, context, 3, 64).ToArray();
        context.Parameter = 4;
        var selections = parameters.ReadUInt32();
        for (var i = 0u; i < selections; i++)
        {
            parameters.ReadUInt16();
            parameters.ReadBytes(parameters.ReadByte());
        }

        context.Parameter = 0;
        if (!parent.IsStorageParent)
        {
            throw SoftwareTpmFault.OnHandle(SoftwareTpmRc.Type, 1);
        }

        CheckSigningTemplate(template, parameter: 2);
        if (!data.IsEmpty)
        {
            // sensitiveDataOrigin: the TPM makes the key; the caller may not supply it (Part 3 §12.1.1).
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Attributes, 2);
        }

        byte[] privatePart;
        TpmPublic created;
        if (template.Type == TpmAlgorithm.Ecc)
        {
            using var ecdsa = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var p = ecdsa.ExportParameters(true);
            privatePart = p.D!;
            created = WithUnique(template, eccX: p.Q.X!, eccY: p.Q.Y!);
        }
        else
        {
            using var rsa = RSA.Create(template.KeyBits);
            var p = rsa.ExportParameters(true);
            privatePart = p.P!;
            created = WithUnique(template, modulus: p.Modulus!);
            CryptographicOperations.ZeroMemory(p.D);
            CryptographicOperations.ZeroMemory(p.Q);
            CryptographicOperations.ZeroMemory(p.DP);
            CryptographicOperations.ZeroMemory(p.DQ);
            CryptographicOperations.ZeroMemory(p.InverseQ);
        }

        var area = created.ToBytes();
        var name = SoftwareTpmObject.NameOf(area);
        var sensitive = SigningSensitive(template.Type, userAuth, privatePart);
        try
        {
            output.WriteSized(SoftwareTpmWrapping.SensitiveToPrivate(sensitive, name, parent.SeedValue));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sensitive);
            CryptographicOperations.ZeroMemory(privatePart);
            CryptographicOperations.ZeroMemory(userAuth);
        }

        output.WriteSized(area);

        // TPMS_CREATION_DATA: no PCRs, locality 0, the parent's names, outsideInfo (Part 2 §15.1).
        using var creation = new TpmWriter(256);
        creation.WriteUInt32(0);
        creation.WriteSized([]);
        creation.WriteByte(0);
        creation.WriteUInt16((ushort)TpmAlgorithm.Sha256);
        creation.WriteSized(parent.Name);
        creation.WriteSized(parent.QualifiedName);
        creation.WriteSized(outsideInfo);
        var creationData = creation.ToArray();
        var creationHash = SHA256.HashData(creationData);
        output.WriteSized(creationData);
        output.WriteSized(creationHash);

        // TPMT_TK_CREATION: HMAC(proof, TPM_ST_CREATION ‖ name ‖ creationHash), the proof being the hierarchy seed here.
        output.WriteUInt16(CreationTag);
        output.WriteUInt32(parent.Hierarchy);
        using var ticket = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, State.SeedOf(parent.Hierarchy));
        ticket.AppendData([(byte)(CreationTag >> 8), unchecked((byte)CreationTag)]);
        ticket.AppendData(name);
        ticket.AppendData(creationHash);
        output.WriteSized(ticket.GetHashAndReset());
        return null;
    }

    private uint? Sign(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var key = GetObject(context.Handles[0], 1);
        Authorize(context, 1, GetEntity(context.Handles[0], 1));
        var digest = Sized(ref parameters, context, 1, 64).ToArray();
        context.Parameter = 2;
        var scheme = (TpmAlgorithm)parameters.ReadUInt16();
        var hash = scheme == TpmAlgorithm.Null ? TpmAlgorithm.Null : (TpmAlgorithm)parameters.ReadUInt16();
        context.Parameter = 3;
        var tag = parameters.ReadUInt16();
        var hierarchy = parameters.ReadUInt32();
        var ticketDigest = Sized(ref parameters, context, 3, 64);
        context.Parameter = 0;

        if (key.SigningPrivate is null || !key.Public.Attributes.HasFlag(TpmObjectAttributes.Sign))
        {
            throw SoftwareTpmFault.OnHandle(SoftwareTpmRc.Key, 1);
        }

        if (tag != HashCheckTag || hierarchy != NullHierarchy || !ticketDigest.IsEmpty || key.Public.Attributes.HasFlag(TpmObjectAttributes.Restricted))
        {
            throw SoftwareTpmFault.OnParameter(Ticket, 3);
        }

        if (scheme == TpmAlgorithm.Null)
        {
            (scheme, hash) = (key.Public.Scheme, key.Public.SchemeHash);
        }
        else if (key.Public.Scheme != TpmAlgorithm.Null && (key.Public.Scheme != scheme || key.Public.SchemeHash != hash))
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Scheme, 2);
        }

        bool ecc = key.Public.Type == TpmAlgorithm.Ecc;
        if (ecc ? scheme != TpmAlgorithm.Ecdsa : scheme is not (TpmAlgorithm.RsaSsa or TpmAlgorithm.RsaPss))
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Scheme, 2);
        }

        if (hash != TpmAlgorithm.Sha256)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Hash, 2);
        }

        if (digest.Length != SHA256.HashSizeInBytes)
        {
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Size, 1);
        }

        output.WriteUInt16((ushort)scheme);
        output.WriteUInt16((ushort)hash);
        if (ecc)
        {
            using var ecdsa = OpenEcdsa(key.Public, key.SigningPrivate);
            var signature = ecdsa.SignHash(digest, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);
            output.WriteSized(signature.AsSpan(0, 32));
            output.WriteSized(signature.AsSpan(32));
        }
        else
        {
            using var rsa = OpenRsa(key.Public, key.SigningPrivate);
            var padding = scheme == TpmAlgorithm.RsaSsa ? RSASignaturePadding.Pkcs1 : RSASignaturePadding.Pss;
            output.WriteSized(rsa.SignHash(digest, HashAlgorithmName.SHA256, padding));
        }

        return null;
    }

    /// <summary>Builds a signing-key object from TPMT_SENSITIVE bytes, checking that the private part belongs to the public
    /// area (TPM_RC_BINDING otherwise, blamed on the public area).</summary>
    private static SoftwareTpmObject CreateSigningObject(TpmPublic pub, byte[] area, byte[] name, SoftwareTpmObject parent, ReadOnlySpan<byte> sensitive, int publicParameter, int sensitiveParameter)
    {
        CheckSigningTemplate(pub, publicParameter);
        byte[] authValue, privatePart;
        try
        {
            var reader = new TpmReader(sensitive);
            if (reader.Remaining < 2 || (TpmAlgorithm)reader.ReadUInt16() != pub.Type)
            {
                throw new SoftwareTpmFault(SoftwareTpmRc.Type);
            }

            authValue = SoftwareTpmWrapping.ReadSized(ref reader, SHA256.HashSizeInBytes).ToArray();
            SoftwareTpmWrapping.ReadSized(ref reader, SHA256.HashSizeInBytes); // seedValue: none for an asymmetric key
            privatePart = SoftwareTpmWrapping.ReadSized(ref reader, 256).ToArray();
            if (!reader.IsAtEnd)
            {
                throw new SoftwareTpmFault(TpmResponseCode.Size);
            }
        }
        catch (SoftwareTpmFault fault)
        {
            throw SoftwareTpmFault.OnParameter(fault.ResponseCode, sensitiveParameter);
        }

        try
        {
            // Opening the key checks it: RSA needs p to divide n, ECC needs d·G = Q.
            using IDisposable opened = pub.Type == TpmAlgorithm.Ecc ? OpenEcdsa(pub, privatePart) : OpenRsa(pub, privatePart);
        }
        catch (CryptographicException)
        {
            CryptographicOperations.ZeroMemory(privatePart);
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
            SigningPrivate = privatePart,
        };
    }

    /// <summary>Whether a public area is a signing key this TPM can create and load; TPM_RC codes blamed on <paramref name="parameter"/>.</summary>
    private static void CheckSigningTemplate(TpmPublic pub, int parameter)
    {
        if (pub.Type is not (TpmAlgorithm.Rsa or TpmAlgorithm.Ecc))
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Type, parameter);
        }

        if ((pub.Attributes & RequiredSigningAttributes) != RequiredSigningAttributes
            || (pub.Attributes & (TpmObjectAttributes.Restricted | TpmObjectAttributes.Decrypt)) != 0)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Attributes, parameter);
        }

        if (pub.Symmetric.Algorithm != TpmAlgorithm.Null)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Symmetric, parameter);
        }

        if (pub.Scheme != TpmAlgorithm.Null && pub.SchemeHash != TpmAlgorithm.Sha256)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Hash, parameter);
        }

        if (pub.Type == TpmAlgorithm.Rsa)
        {
            if (pub.KeyBits is not (2048 or 3072))
            {
                throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.KeySize, parameter);
            }

            if (pub.Exponent is not (0 or 65537) || pub.Scheme is not (TpmAlgorithm.Null or TpmAlgorithm.RsaSsa or TpmAlgorithm.RsaPss))
            {
                throw SoftwareTpmFault.OnParameter(pub.Exponent is 0 or 65537 ? SoftwareTpmRc.Scheme : TpmResponseCode.Value, parameter);
            }
        }
        else
        {
            if (pub.CurveId != TpmTemplates.NistP256)
            {
                throw SoftwareTpmFault.OnParameter(CurveCode, parameter);
            }

            if (pub.Scheme is not (TpmAlgorithm.Null or TpmAlgorithm.Ecdsa) || pub.SchemeKdf != TpmAlgorithm.Null)
            {
                throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Scheme, parameter);
            }
        }
    }

    private static TpmPublic WithUnique(TpmPublic template, byte[]? modulus = null, byte[]? eccX = null, byte[]? eccY = null) => new()
    {
        Type = template.Type,
        NameAlgorithm = template.NameAlgorithm,
        Attributes = template.Attributes,
        AuthPolicy = template.AuthPolicy,
        Symmetric = template.Symmetric,
        Scheme = template.Scheme,
        SchemeHash = template.SchemeHash,
        SchemeKdf = template.SchemeKdf,
        KdfHash = template.KdfHash,
        KeyBits = template.KeyBits,
        Exponent = template.Exponent,
        CurveId = template.CurveId,
        Unique = modulus ?? [],
        EccX = eccX ?? [],
        EccY = eccY ?? [],
    };

    /// <summary>TPMT_SENSITIVE of an asymmetric key: sensitiveType, authValue, empty seedValue, the private part.</summary>
    private static byte[] SigningSensitive(TpmAlgorithm type, ReadOnlySpan<byte> authValue, ReadOnlySpan<byte> privatePart)
    {
        using var writer = new TpmWriter(512);
        writer.WriteUInt16((ushort)type);
        writer.WriteSized(authValue);
        writer.WriteSized([]);
        writer.WriteSized(privatePart);
        return writer.ToArray();
    }

    private static ECDsa OpenEcdsa(TpmPublic pub, byte[] d) => ECDsa.Create(new ECParameters
    {
        Curve = ECCurve.NamedCurves.nistP256,
        D = d,
        Q = new ECPoint { X = pub.EccX.ToArray(), Y = pub.EccY.ToArray() },
    });

    /// <summary>Rebuilds an RSA key from its modulus, exponent and the prime p (as a TPM does on load).</summary>
    private static RSA OpenRsa(TpmPublic pub, byte[] primeP)
    {
        int size = pub.KeyBits / 8, half = size / 2;
        var n = new BigInteger(pub.Unique.Span, isUnsigned: true, isBigEndian: true);
        var p = new BigInteger(primeP, isUnsigned: true, isBigEndian: true);
        if (primeP.Length != half || p <= BigInteger.One || !(n % p).IsZero)
        {
            throw new CryptographicException("The prime does not divide the modulus.");
        }

        var e = new BigInteger(pub.Exponent == 0 ? 65537u : pub.Exponent);
        var q = n / p;
        var phi = (p - 1) * (q - 1);
        var d = ModInverse(e, phi);
        var parameters = new RSAParameters
        {
            Modulus = pub.Unique.ToArray(),
            Exponent = Unsigned(e, 3),
            P = primeP.ToArray(),
            Q = Unsigned(q, half),
            D = Unsigned(d, size),
            DP = Unsigned(d % (p - 1), half),
            DQ = Unsigned(d % (q - 1), half),
            InverseQ = Unsigned(ModInverse(q, p), half),
        };
        try
        {
            return RSA.Create(parameters);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(parameters.D);
            CryptographicOperations.ZeroMemory(parameters.P);
            CryptographicOperations.ZeroMemory(parameters.Q);
            CryptographicOperations.ZeroMemory(parameters.DP);
            CryptographicOperations.ZeroMemory(parameters.DQ);
            CryptographicOperations.ZeroMemory(parameters.InverseQ);
        }
    }

    private static byte[] Unsigned(BigInteger value, int length)
    {
        var bytes = value.ToByteArray(isUnsigned: true, isBigEndian: true);
        if (bytes.Length > length)
        {
            throw new CryptographicException("An RSA component is wider than its field.");
        }

        var padded = new byte[length];
        bytes.CopyTo(padded, length - bytes.Length);
        return padded;
    }

    private static BigInteger ModInverse(BigInteger a, BigInteger m)
    {
        (BigInteger oldR, BigInteger r) = (a % m, m);
        (BigInteger oldS, BigInteger s) = (BigInteger.One, BigInteger.Zero);
        while (!r.IsZero)
        {
            var quotient = oldR / r;
            (oldR, r) = (r, oldR - (quotient * r));
            (oldS, s) = (s, oldS - (quotient * s));
        }

        if (!oldR.IsOne)
        {
            throw new CryptographicException("The exponent has no inverse.");
        }

        return ((oldS % m) + m) % m;
    }
}

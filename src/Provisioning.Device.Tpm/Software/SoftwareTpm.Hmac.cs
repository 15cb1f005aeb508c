using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>HMAC with a loaded keyed-hash key: TPM2_HMAC and the HMAC_Start / SequenceUpdate / SequenceComplete sequence.</summary>
/// <remarks>TPM 2.0 Library Part 3 §15.5 (HMAC), §17.2 (HMAC_Start), §17.4 (SequenceUpdate), §17.5 (SequenceComplete). A
/// TPM2B_MAX_BUFFER holds 1024 bytes, so a longer buffer is refused with TPM_RC_SIZE on parameter 1 (0x1D5), as swtpm does.</remarks>
internal sealed partial class SoftwareTpm
{
    private uint? Hmac(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var key = GetObject(context.Handles[0], 1);
        Authorize(context, 1, GetEntity(context.Handles[0], 1));
        var buffer = Sized(ref parameters, context, 1, TpmConstants.MaxBufferSize);
        context.Parameter = 2;
        var hash = (TpmAlgorithm)parameters.ReadUInt16();
        context.Parameter = 0;
        var hmacKey = RequireHmacKey(key, hash, hashParameter: 2);
        output.WriteSized(HMACSHA256.HashData(hmacKey, buffer));
        return null;
    }

    private uint? HmacStart(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var key = GetObject(context.Handles[0], 1);
        Authorize(context, 1, GetEntity(context.Handles[0], 1));
        var auth = Sized(ref parameters, context, 1, SHA256.HashSizeInBytes).ToArray();
        context.Parameter = 2;
        var hash = (TpmAlgorithm)parameters.ReadUInt16();
        context.Parameter = 0;
        var hmacKey = RequireHmacKey(key, hash, hashParameter: 2);
        return AddTransient(new SoftwareTpmObject
        {
            Public = key.Public,
            PublicArea = [],
            Name = [],
            QualifiedName = [],
            Hierarchy = TpmHandles.Null,
            AuthValue = auth,
            Sequence = IncrementalHash.CreateHMAC(HashAlgorithmName.SHA256, hmacKey),
        });
    }

    private uint? SequenceUpdate(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var sequence = RequireSequence(context);
        var buffer = Sized(ref parameters, context, 1, TpmConstants.MaxBufferSize);
        context.Parameter = 0;
        sequence.Sequence!.AppendData(buffer);
        return null;
    }

    private uint? SequenceComplete(Context context, ref TpmReader parameters, TpmWriter output)
    {
        var sequence = RequireSequence(context);
        var buffer = Sized(ref parameters, context, 1, TpmConstants.MaxBufferSize);
        context.Parameter = 2;
        parameters.ReadUInt32(); // hierarchy of the ticket: an HMAC sequence gets a NULL ticket whatever it is
        context.Parameter = 0;
        sequence.Sequence!.AppendData(buffer);
        output.WriteSized(sequence.Sequence.GetHashAndReset());
        output.WriteUInt16((ushort)TpmStructureTag.HashCheck);
        output.WriteUInt32(TpmHandles.Null);
        output.WriteUInt16(0);
        _transient.Remove(context.Handles[0]);
        sequence.Wipe();
        return null;
    }

    private SoftwareTpmObject RequireSequence(Context context)
    {
        var sequence = GetObject(context.Handles[0], 1);
        if (sequence.Sequence is null)
        {
            throw SoftwareTpmFault.OnHandle(SoftwareTpmRc.Mode, 1); // not a sequence object
        }

        Authorize(context, 1, GetEntity(context.Handles[0], 1));
        return sequence;
    }

    private static byte[] RequireHmacKey(SoftwareTpmObject key, TpmAlgorithm hash, int hashParameter)
    {
        if (key.HmacKey is null || key.Sequence is not null)
        {
            throw SoftwareTpmFault.OnHandle(SoftwareTpmRc.Type, 1);
        }

        if (!key.Public.Attributes.HasFlag(TpmObjectAttributes.Sign))
        {
            throw SoftwareTpmFault.OnHandle(SoftwareTpmRc.Key, 1);
        }

        var effective = hash == TpmAlgorithm.Null ? key.Public.SchemeHash : hash;
        if (key.Public.Scheme == TpmAlgorithm.Hmac && hash != TpmAlgorithm.Null && hash != key.Public.SchemeHash)
        {
            throw SoftwareTpmFault.OnParameter(TpmResponseCode.Value, hashParameter);
        }

        if (effective != TpmAlgorithm.Sha256)
        {
            throw SoftwareTpmFault.OnParameter(SoftwareTpmRc.Hash, hashParameter);
        }

        return key.HmacKey;
    }
}

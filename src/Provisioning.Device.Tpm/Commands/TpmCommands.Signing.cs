namespace Provisioning.Device.Tpm;

/// <summary>The signature of TPM2_Sign: RSASSA (<see cref="Signature"/>) or ECDSA (<see cref="R"/>, <see cref="S"/>).</summary>
internal sealed record TpmSignature(TpmAlgorithm Algorithm, TpmAlgorithm Hash, byte[] Signature, byte[] R, byte[] S);

/// <summary>Key creation and signing: TPM2_Create and TPM2_Sign (Part 3 §12.1, §20.2).</summary>
internal sealed partial class TpmCommands
{
    private const ushort HashCheckTag = 0x8024; // TPM_ST_HASHCHECK
    private const uint NullHierarchy = 0x4000_0007; // TPM_RH_NULL

    /// <summary>TPM2_Create under <paramref name="parentHandle"/> with an empty sensitive area; returns the TPM2B_PRIVATE
    /// contents and the TPM2B_PUBLIC (size prefix included) of the new object.</summary>
    public async ValueTask<(byte[] Private, byte[] Tpm2BPublic)> CreateAsync(
        uint parentHandle, ReadOnlyMemory<byte> parentAuth, TpmPublic template, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.Create, sessions: true);
        command.WriteUInt32(parentHandle);
        WriteAuthorizations(command, TpmAuthCommand.Password(parentAuth));
        WriteCreationParameters(command, template);
        var response = await SendAsync(command, TpmCommandCode.Create, cancellationToken).ConfigureAwait(false);
        var reader = OpenParameters(response, [], out var offset);
        var outPrivate = reader.ReadSized(ushort.MaxValue, "TPM2B_PRIVATE").ToArray();
        var publicStart = reader.Position;
        TpmPublic.ReadSized(ref reader); // creation data, hash and ticket follow
        return (outPrivate, response.AsSpan(offset + publicStart, reader.Position - publicStart).ToArray());
    }

    /// <summary>TPM2_Sign of a digest with an unrestricted signing key (a NULL hash-check ticket), with an explicit scheme.</summary>
    /// <param name="keyHandle">The key (transient or persistent).</param>
    /// <param name="keyAuth">The key's password (empty for ours).</param>
    /// <param name="digest">The digest to sign.</param>
    /// <param name="scheme">TPM_ALG_RSASSA or TPM_ALG_ECDSA.</param>
    /// <param name="hash">The hash of <paramref name="digest"/>.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    public async ValueTask<TpmSignature> SignAsync(
        uint keyHandle, ReadOnlyMemory<byte> keyAuth, ReadOnlyMemory<byte> digest, TpmAlgorithm scheme, TpmAlgorithm hash, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.Sign, sessions: true);
        command.WriteUInt32(keyHandle);
        WriteAuthorizations(command, TpmAuthCommand.Password(keyAuth));
        command.WriteSized(digest.Span);
        command.WriteUInt16((ushort)scheme);
        command.WriteUInt16((ushort)hash);
        command.WriteUInt16(HashCheckTag); // TPMT_TK_HASHCHECK: the NULL ticket
        command.WriteUInt32(NullHierarchy);
        command.WriteUInt16(0);
        var response = await SendAsync(command, TpmCommandCode.Sign, cancellationToken).ConfigureAwait(false);
        var reader = OpenParameters(response, []);
        var algorithm = (TpmAlgorithm)reader.ReadUInt16();
        if (algorithm != scheme)
        {
            throw new TpmFormatException($"TPM2_Sign answered a 0x{(ushort)algorithm:X4} signature to a 0x{(ushort)scheme:X4} request.");
        }

        var signatureHash = (TpmAlgorithm)reader.ReadUInt16();
        TpmSignature result = algorithm switch
        {
            TpmAlgorithm.RsaSsa => new TpmSignature(algorithm, signatureHash, reader.ReadSized(512, "TPM2B_PUBLIC_KEY_RSA").ToArray(), [], []),
            TpmAlgorithm.Ecdsa => new TpmSignature(algorithm, signatureHash, [], reader.ReadSized(66, "ECDSA r").ToArray(), reader.ReadSized(66, "ECDSA s").ToArray()),
            _ => throw new TpmFormatException($"TPMT_SIGNATURE 0x{(ushort)algorithm:X4} is not supported."),
        };
        reader.EnsureAtEnd("TPM2_Sign response");
        return result;
    }
}

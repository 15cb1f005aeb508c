namespace Provisioning.Device.Tpm;

/// <summary>The public area of an object as TPM2_ReadPublic returns it.</summary>
/// <param name="Tpm2BPublic">The TPM2B_PUBLIC bytes exactly as the TPM sent them, size prefix included.</param>
/// <param name="Public">The parsed TPMT_PUBLIC.</param>
/// <param name="Name">The object's Name.</param>
internal sealed record TpmObjectPublic(byte[] Tpm2BPublic, TpmPublic Public, byte[] Name);

/// <summary>Object commands: ReadPublic, CreatePrimary, EvictControl, FlushContext, Import, Load (Part 3 §12, §24, §28).</summary>
internal sealed partial class TpmCommands
{
    /// <summary>TPM2_ReadPublic.</summary>
    public async ValueTask<TpmObjectPublic> ReadPublicAsync(uint handle, CancellationToken cancellationToken = default)
    {
        var (raw, name) = await ReadPublicRawAsync(handle, cancellationToken).ConfigureAwait(false);
        return new TpmObjectPublic(raw, TpmPublic.FromTpm2B(raw), name);
    }

    /// <summary>TPM2_ReadPublic without parsing the public area: the TPM2B_PUBLIC bytes (size prefix included) and the Name,
    /// whatever the object's type (for recognising objects of types this library does not use, such as ECC keys).</summary>
    public async ValueTask<(byte[] Tpm2BPublic, byte[] Name)> ReadPublicRawAsync(uint handle, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.ReadPublic, sessions: false);
        command.WriteUInt32(handle);
        var response = await SendAsync(command, TpmCommandCode.ReadPublic, cancellationToken).ConfigureAwait(false);
        var reader = OpenParameters(response, [], out var offset);
        var inner = reader.ReadSizedReader("TPM2B_PUBLIC");
        if (inner.Remaining < 10)
        {
            // type, nameAlg, objectAttributes and the authPolicy size come first in every TPMT_PUBLIC.
            throw new TpmFormatException($"TPM2_ReadPublic returned a {inner.Remaining}-byte TPM2B_PUBLIC, too short for a TPMT_PUBLIC.");
        }

        var raw = response.AsSpan(offset, reader.Position).ToArray();
        var name = reader.ReadSized(TpmConstants.MaxDigestSize + 2, "TPM2B_NAME").ToArray();
        reader.ReadSized(TpmConstants.MaxDigestSize + 2, "TPM2B_NAME qualifiedName");
        reader.EnsureAtEnd("TPM2_ReadPublic response");
        return (raw, name);
    }

    /// <summary>The parameters TPM2_CreatePrimary and TPM2_Create share: an empty TPM2B_SENSITIVE_CREATE (no userAuth, no data),
    /// the TPM2B_PUBLIC template, an empty outsideInfo and no creation PCRs.</summary>
    private static void WriteCreationParameters(TpmWriter command, TpmPublic template)
    {
        command.WriteUInt16(4);
        command.WriteUInt16(0);
        command.WriteUInt16(0);
        template.WriteSized(command);
        command.WriteUInt16(0);
        command.WriteUInt32(0);
    }

    /// <summary>TPM2_CreatePrimary with an empty sensitive area; returns the transient handle and the TPM2B_PUBLIC created.</summary>
    public async ValueTask<(uint Handle, byte[] Tpm2BPublic)> CreatePrimaryAsync(
        uint hierarchy, ReadOnlyMemory<byte> hierarchyAuth, TpmPublic template, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.CreatePrimary, sessions: true);
        command.WriteUInt32(hierarchy);
        WriteAuthorizations(command, TpmAuthCommand.Password(hierarchyAuth));
        WriteCreationParameters(command, template);
        var response = await SendAsync(command, TpmCommandCode.CreatePrimary, cancellationToken).ConfigureAwait(false);
        Span<uint> handle = stackalloc uint[1];
        var reader = OpenParameters(response, handle, out var offset);
        TpmPublic.ReadSized(ref reader); // outPublic comes first; creation data, hash, ticket and name follow
        return (handle[0], response.AsSpan(offset, reader.Position).ToArray());
    }

    /// <summary>TPM2_EvictControl: persists a transient object at <paramref name="persistentHandle"/>, or (given the persistent
    /// handle as <paramref name="objectHandle"/>) evicts it.</summary>
    public async ValueTask EvictControlAsync(
        uint authHandle, ReadOnlyMemory<byte> authValue, uint objectHandle, uint persistentHandle, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.EvictControl, sessions: true);
        command.WriteUInt32(authHandle);
        command.WriteUInt32(objectHandle);
        WriteAuthorizations(command, TpmAuthCommand.Password(authValue));
        command.WriteUInt32(persistentHandle);
        await SendAsync(command, TpmCommandCode.EvictControl, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>TPM2_FlushContext: unloads a transient object, sequence or session.</summary>
    public async ValueTask FlushContextAsync(uint handle, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.FlushContext, sessions: false);
        command.WriteUInt32(handle);
        await SendAsync(command, TpmCommandCode.FlushContext, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>TPM2_Import with an inner symmetric wrapper; returns the TPM2B_PRIVATE contents to load.</summary>
    /// <param name="parentHandle">The new parent (the SRK).</param>
    /// <param name="parentAuth">The parent's password.</param>
    /// <param name="encryptionKey">The inner-wrapper key (secret: the command buffer is zeroed).</param>
    /// <param name="objectPublic">TPMT_PUBLIC bytes (the contents of the TPM2B_PUBLIC).</param>
    /// <param name="duplicate">TPM2B_PRIVATE contents.</param>
    /// <param name="inSymSeed">TPM2B_ENCRYPTED_SECRET contents.</param>
    /// <param name="symmetric">The inner wrapper's algorithm.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    public async ValueTask<byte[]> ImportAsync(
        uint parentHandle,
        ReadOnlyMemory<byte> parentAuth,
        ReadOnlyMemory<byte> encryptionKey,
        ReadOnlyMemory<byte> objectPublic,
        ReadOnlyMemory<byte> duplicate,
        ReadOnlyMemory<byte> inSymSeed,
        TpmSymmetricDefinition symmetric,
        CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.Import, sessions: true);
        command.WriteUInt32(parentHandle);
        WriteAuthorizations(command, TpmAuthCommand.Password(parentAuth));
        command.WriteSized(encryptionKey.Span);
        command.WriteSized(objectPublic.Span);
        command.WriteSized(duplicate.Span);
        command.WriteSized(inSymSeed.Span);
        symmetric.Write(command);
        var response = await SendAsync(command, TpmCommandCode.Import, cancellationToken).ConfigureAwait(false);
        var reader = OpenParameters(response, []);
        var outPrivate = reader.ReadSized(ushort.MaxValue, "TPM2B_PRIVATE").ToArray();
        reader.EnsureAtEnd("TPM2_Import response");
        return outPrivate;
    }

    /// <summary>TPM2_Load under <paramref name="parentHandle"/>; returns the transient handle (the caller flushes it).</summary>
    public async ValueTask<uint> LoadAsync(
        uint parentHandle, ReadOnlyMemory<byte> parentAuth, ReadOnlyMemory<byte> inPrivate, ReadOnlyMemory<byte> inPublic, CancellationToken cancellationToken = default)
    {
        using var command = BeginCommand(TpmCommandCode.Load, sessions: true);
        command.WriteUInt32(parentHandle);
        WriteAuthorizations(command, TpmAuthCommand.Password(parentAuth));
        command.WriteSized(inPrivate.Span);
        command.WriteSized(inPublic.Span);
        var response = await SendAsync(command, TpmCommandCode.Load, cancellationToken).ConfigureAwait(false);
        Span<uint> handle = stackalloc uint[1];
        var reader = OpenParameters(response, handle);
        reader.ReadSized(TpmConstants.MaxDigestSize + 2, "TPM2B_NAME");
        reader.EnsureAtEnd("TPM2_Load response");
        return handle[0];
    }
}

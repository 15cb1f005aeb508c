namespace Provisioning.Device.Tpm;

/// <summary>The header shared by TPM 2.0 commands and responses: tag, total size, command or response code.</summary>
/// <remarks>TPM 2.0 Library Part 1, §18.9 (command) and §18.10 (response).</remarks>
/// <param name="Tag">TPM_ST_NO_SESSIONS or TPM_ST_SESSIONS.</param>
/// <param name="Size">The size of the whole message, header included.</param>
/// <param name="Code">The TPM_CC of a command or the TPM_RC of a response.</param>
public readonly record struct TpmMessage(TpmStructureTag Tag, uint Size, uint Code)
{
    /// <summary>The size of the header: UINT16 tag, UINT32 size, UINT32 code.</summary>
    public const int HeaderSize = 10;

    /// <summary>Reads a header and checks its size against the buffer it came in: it must be exact.</summary>
    /// <param name="reader">Positioned at the start of the message; left after the header.</param>
    /// <param name="messageLength">The length of the whole buffer holding the message.</param>
    public static TpmMessage ReadHeader(ref TpmReader reader, int messageLength)
    {
        var tag = (TpmStructureTag)reader.ReadUInt16();
        var size = reader.ReadUInt32();
        var code = reader.ReadUInt32();
        if (size != (uint)messageLength)
        {
            throw new TpmFormatException($"The TPM message header says {size} bytes but {messageLength} arrived.");
        }

        if (tag is not (TpmStructureTag.NoSessions or TpmStructureTag.Sessions or TpmStructureTag.ResponseCommand))
        {
            throw new TpmFormatException($"Unexpected TPM message tag 0x{(ushort)tag:X4}.");
        }

        return new TpmMessage(tag, size, code);
    }

    /// <summary>Reads just the size field of a message header, to know how many bytes to wait for on a stream.</summary>
    /// <param name="header">At least the first <see cref="HeaderSize"/> bytes.</param>
    /// <param name="maxSize">The largest message accepted.</param>
    public static int PeekSize(ReadOnlySpan<byte> header, int maxSize)
    {
        var reader = new TpmReader(header);
        reader.ReadUInt16();
        var size = reader.ReadUInt32();
        if (size < HeaderSize || size > (uint)maxSize)
        {
            throw new TpmFormatException($"The TPM message header claims {size} bytes; expected {HeaderSize}..{maxSize}.");
        }

        return (int)size;
    }
}

/// <summary>One entry of a command's authorization area (TPMS_AUTH_COMMAND).</summary>
/// <remarks>TPM 2.0 Library Part 2, §10.13.2. For the password pseudo-session (TPM_RS_PW) <see cref="Hmac"/> carries the
/// password itself; for a policy session without HMAC it is empty.</remarks>
/// <param name="SessionHandle">TPM_RS_PW or a session handle.</param>
/// <param name="Nonce">nonceCaller (empty for TPM_RS_PW).</param>
/// <param name="Attributes">TPMA_SESSION.</param>
/// <param name="Hmac">The password or HMAC.</param>
public readonly record struct TpmAuthCommand(uint SessionHandle, ReadOnlyMemory<byte> Nonce, TpmSessionAttributes Attributes, ReadOnlyMemory<byte> Hmac)
{
    /// <summary>A password authorization (TPM_RS_PW) with the given password (empty for none).</summary>
    public static TpmAuthCommand Password(ReadOnlyMemory<byte> password = default)
        => new(TpmHandles.PasswordSession, ReadOnlyMemory<byte>.Empty, TpmSessionAttributes.ContinueSession, password);

    /// <summary>A policy session without HMAC, kept open after the command (the caller flushes it).</summary>
    public static TpmAuthCommand Policy(uint sessionHandle)
        => new(sessionHandle, ReadOnlyMemory<byte>.Empty, TpmSessionAttributes.ContinueSession, ReadOnlyMemory<byte>.Empty);

    /// <summary>Writes the structure.</summary>
    public void Write(TpmWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteUInt32(SessionHandle);
        writer.WriteSized(Nonce.Span);
        writer.WriteByte((byte)Attributes);
        writer.WriteSized(Hmac.Span);
    }

    /// <summary>Reads the structure (for a TPM implementation parsing commands).</summary>
    public static TpmAuthCommand Read(ref TpmReader reader)
    {
        var handle = reader.ReadUInt32();
        var nonce = reader.ReadSized(TpmConstants.MaxDigestSize, "TPM2B_NONCE").ToArray();
        var attributes = (TpmSessionAttributes)reader.ReadByte();
        var hmac = reader.ReadSized(TpmConstants.MaxDigestSize, "TPM2B_AUTH").ToArray();
        return new TpmAuthCommand(handle, nonce, attributes, hmac);
    }
}

/// <summary>One entry of a response's authorization area (TPMS_AUTH_RESPONSE).</summary>
/// <remarks>TPM 2.0 Library Part 2, §10.13.3.</remarks>
/// <param name="Nonce">nonceTPM.</param>
/// <param name="Attributes">TPMA_SESSION.</param>
/// <param name="Hmac">The response HMAC (empty for TPM_RS_PW and plain policy sessions).</param>
public readonly record struct TpmAuthResponse(ReadOnlyMemory<byte> Nonce, TpmSessionAttributes Attributes, ReadOnlyMemory<byte> Hmac)
{
    /// <summary>Writes the structure (for a TPM implementation).</summary>
    public void Write(TpmWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        writer.WriteSized(Nonce.Span);
        writer.WriteByte((byte)Attributes);
        writer.WriteSized(Hmac.Span);
    }

    /// <summary>Reads the structure.</summary>
    public static TpmAuthResponse Read(ref TpmReader reader)
    {
        var nonce = reader.ReadSized(TpmConstants.MaxDigestSize, "TPM2B_NONCE").ToArray();
        var attributes = (TpmSessionAttributes)reader.ReadByte();
        var hmac = reader.ReadSized(TpmConstants.MaxDigestSize, "TPM2B_AUTH").ToArray();
        return new TpmAuthResponse(nonce, attributes, hmac);
    }
}

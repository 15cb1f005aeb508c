using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>
/// A TPM 2.0 in managed code: parses command bytes, runs the subset of commands the DPS flow uses, and answers response bytes
/// with the codes a real TPM gives. Every other command gets TPM_RC_COMMAND_CODE.
/// </summary>
/// <remarks>
/// TPM 2.0 Library Part 1 §18 (command and response structure), Part 3 (the commands). The limits are swtpm's (tpm-lab.md):
/// three transient object slots (HMAC sequences count), three sessions, 1024-byte TPM2B_MAX_BUFFER, 4096-byte commands.
/// Authorization is by password (TPM_RS_PW) or by a policy session whose digest must equal the object's authPolicy; HMAC
/// sessions, parameter encryption and audit are not implemented (a real TPM has them; our client never sends them).
/// One command runs at a time. State that survives power cycles lives in a <see cref="SoftwareTpmState"/>, saved through the
/// optional <see cref="SoftwareTpmStateStore"/> after each command that changes it.
/// </remarks>
internal sealed partial class SoftwareTpm : IDisposable
{
    private const int MaxCommandSize = 4096;
    private const int MaxObjects = 3;
    private const int MaxSessions = 3;

    private readonly SoftwareTpmStateStore? _store;
    private readonly Lock _lock = new();
    private readonly Dictionary<TpmCommandCode, CommandInfo> _commands;
    private readonly SortedDictionary<uint, SoftwareTpmObject> _transient = [];
    private readonly SortedDictionary<uint, SoftwareTpmSession> _sessions = [];
    private SoftwareTpmState? _state;
    private bool _started;
    private uint _nextObject;
    private uint _nextSession;

    /// <summary>Creates a TPM; with a store, its state is read on the first command and written after each change.</summary>
    public SoftwareTpm(SoftwareTpmStateStore? store)
    {
        _store = store;
        _commands = new()
        {
            [TpmCommandCode.Startup] = new(0, 0, Startup),
            [TpmCommandCode.GetRandom] = new(0, 0, GetRandom),
            [TpmCommandCode.GetCapability] = new(0, 0, GetCapability),
            [TpmCommandCode.ReadPublic] = new(1, 0, ReadPublic),
            [TpmCommandCode.CreatePrimary] = new(1, 1, CreatePrimary),
            [TpmCommandCode.EvictControl] = new(2, 1, EvictControl),
            [TpmCommandCode.FlushContext] = new(0, 0, FlushContext),
            [TpmCommandCode.StartAuthSession] = new(2, 0, StartAuthSession),
            [TpmCommandCode.PolicySecret] = new(2, 1, PolicySecret),
            [TpmCommandCode.ActivateCredential] = new(2, 2, ActivateCredential),
            [TpmCommandCode.Import] = new(1, 1, Import),
            [TpmCommandCode.Load] = new(1, 1, Load),
            [TpmCommandCode.Create] = new(1, 1, Create),
            [TpmCommandCode.Sign] = new(1, 1, Sign),
            [TpmCommandCode.Hmac] = new(1, 1, Hmac),
            [TpmCommandCode.HmacStart] = new(1, 1, HmacStart),
            [TpmCommandCode.SequenceUpdate] = new(1, 1, SequenceUpdate),
            [TpmCommandCode.SequenceComplete] = new(1, 1, SequenceComplete),
            [TpmCommandCode.NvReadPublic] = new(1, 0, NvReadPublic),
            [TpmCommandCode.NvRead] = new(2, 1, NvRead),
        };
    }

    private delegate uint? Handler(Context context, ref TpmReader parameters, TpmWriter output);

    private SoftwareTpmState State => _state!;

    /// <summary>Runs one command and returns its response (an error response for anything a TPM would refuse).</summary>
    /// <exception cref="TpmException">The state folder cannot be read or written.</exception>
    public byte[] Execute(ReadOnlySpan<byte> command)
    {
        lock (_lock)
        {
            _state ??= _store?.LoadOrCreate() ?? SoftwareTpmState.CreateNew();
            var context = new Context();
            try
            {
                return ExecuteCore(command, context);
            }
            catch (SoftwareTpmFault fault)
            {
                var code = fault.ResponseCode;
                if (context.Parameter > 0 && TpmResponseCode.IsFormat1(code) && (code & 0xF40) == 0)
                {
                    code |= 0x40 | ((uint)context.Parameter << 8);
                }

                return ErrorResponse(code);
            }
            catch (TpmFormatException)
            {
                // A structure ran past the end of the command: TPM_RC_INSUFFICIENT, blamed on the parameter being read.
                return ErrorResponse(context.Parameter > 0
                    ? SoftwareTpmFault.OnParameter(SoftwareTpmRc.Insufficient, context.Parameter).ResponseCode
                    : SoftwareTpmRc.Insufficient);
            }
        }
    }

    /// <summary>Defines an NV index holding <paramref name="data"/>, readable with its own (empty) auth and by the owner.</summary>
    /// <remarks>Not a TPM command: the way a manufacturer provisions an EK certificate, for tests of the NV read path.</remarks>
    public void DefineNvIndex(uint index, ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            _state ??= _store?.LoadOrCreate() ?? SoftwareTpmState.CreateNew();
            const uint ownerWrite = 0x0000_0002, written = 0x2000_0000; // TPMA_NV_OWNERWRITE, TPMA_NV_WRITTEN (Part 2 §13.4)
            const uint attributes = ownerWrite | TpmNvPublic.OwnerReadAttribute | TpmNvPublic.AuthReadAttribute | written;
            State.NvIndices[index] = (new TpmNvPublic(index, TpmAlgorithm.Sha256, attributes, Array.Empty<byte>(), (ushort)data.Length), data.ToArray());
            Persist();
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            foreach (var obj in _transient.Values)
            {
                obj.Wipe();
            }

            _transient.Clear();
            _sessions.Clear();
        }
    }

    private byte[] ExecuteCore(ReadOnlySpan<byte> command, Context context)
    {
        if (command.Length < TpmMessage.HeaderSize || command.Length > MaxCommandSize)
        {
            return ErrorResponse(SoftwareTpmRc.CommandSize);
        }

        var reader = new TpmReader(command);
        var tag = (TpmStructureTag)reader.ReadUInt16();
        var size = reader.ReadUInt32();
        var code = (TpmCommandCode)reader.ReadUInt32();
        if (size != (uint)command.Length)
        {
            return ErrorResponse(SoftwareTpmRc.CommandSize);
        }

        if (tag is not (TpmStructureTag.NoSessions or TpmStructureTag.Sessions))
        {
            return ErrorResponse(SoftwareTpmRc.BadTag);
        }

        if (!_started && code != TpmCommandCode.Startup)
        {
            return ErrorResponse(TpmResponseCode.Initialize);
        }

        if (!_commands.TryGetValue(code, out var info))
        {
            return ErrorResponse(TpmResponseCode.CommandCode);
        }

        context.Handles = new uint[info.Handles];
        for (var i = 0; i < info.Handles; i++)
        {
            if (reader.Remaining < 4)
            {
                return ErrorResponse(SoftwareTpmRc.Insufficient);
            }

            context.Handles[i] = reader.ReadUInt32();
        }

        if (tag == TpmStructureTag.Sessions)
        {
            if (info.Authorizations == 0)
            {
                return ErrorResponse(SoftwareTpmRc.AuthContext);
            }

            ReadAuthorizations(ref reader, context);
        }

        if (context.Authorizations.Count < info.Authorizations)
        {
            return ErrorResponse(SoftwareTpmRc.AuthMissing);
        }

        if (context.Authorizations.Count > info.Authorizations)
        {
            // Audit and parameter-encryption sessions are not implemented.
            throw SoftwareTpmFault.OnSession(SoftwareTpmRc.Attributes, info.Authorizations + 1);
        }

        using var output = new TpmWriter(512);
        var handle = info.Handler(context, ref reader, output);
        context.Parameter = 0;
        if (!reader.IsAtEnd)
        {
            return ErrorResponse(TpmResponseCode.Size);
        }

        return BuildResponse(tag, handle, output.WrittenSpan, context);
    }

    private void ReadAuthorizations(ref TpmReader reader, Context context)
    {
        ReadOnlySpan<byte> area;
        try
        {
            var authSize = reader.ReadUInt32();
            if (authSize > (uint)reader.Remaining)
            {
                throw new SoftwareTpmFault(SoftwareTpmRc.AuthSize);
            }

            area = reader.ReadBytes((int)authSize);
            var authReader = new TpmReader(area);
            while (!authReader.IsAtEnd)
            {
                if (context.Authorizations.Count == 3)
                {
                    throw new SoftwareTpmFault(SoftwareTpmRc.AuthSize);
                }

                context.Authorizations.Add(TpmAuthCommand.Read(ref authReader));
            }
        }
        catch (TpmFormatException)
        {
            throw new SoftwareTpmFault(SoftwareTpmRc.AuthSize);
        }

        for (var i = 0; i < context.Authorizations.Count; i++)
        {
            var auth = context.Authorizations[i];
            if (auth.SessionHandle != TpmHandles.PasswordSession && !_sessions.ContainsKey(auth.SessionHandle))
            {
                throw new SoftwareTpmFault(SoftwareTpmRc.ReferenceS0 + (uint)i);
            }

            if ((auth.Attributes & (TpmSessionAttributes.Decrypt | TpmSessionAttributes.Encrypt | TpmSessionAttributes.Audit)) != 0)
            {
                throw SoftwareTpmFault.OnSession(SoftwareTpmRc.Attributes, i + 1);
            }
        }
    }

    private byte[] BuildResponse(TpmStructureTag tag, uint? handle, ReadOnlySpan<byte> parameters, Context context)
    {
        using var writer = new TpmWriter(parameters.Length + 64);
        writer.BeginMessage(tag, TpmResponseCode.Success);
        if (handle is { } h)
        {
            writer.WriteUInt32(h);
        }

        if (tag == TpmStructureTag.Sessions)
        {
            writer.WriteUInt32((uint)parameters.Length);
        }

        writer.WriteBytes(parameters);
        if (tag == TpmStructureTag.Sessions)
        {
            foreach (var auth in context.Authorizations)
            {
                var keep = auth.Attributes.HasFlag(TpmSessionAttributes.ContinueSession);
                byte[] nonce = [];
                if (auth.SessionHandle != TpmHandles.PasswordSession && _sessions.TryGetValue(auth.SessionHandle, out var session))
                {
                    // Part 1 §19.6.17: a used policy session is reset (or ends), and its nonce rolls.
                    if (keep)
                    {
                        session.PolicyDigest = new byte[SHA256.HashSizeInBytes];
                        session.NonceTpm = RandomNumberGenerator.GetBytes(SHA256.HashSizeInBytes);
                        nonce = session.NonceTpm;
                    }
                    else
                    {
                        _sessions.Remove(auth.SessionHandle);
                    }
                }

                new TpmAuthResponse(nonce, auth.Attributes & TpmSessionAttributes.ContinueSession, ReadOnlyMemory<byte>.Empty).Write(writer);
            }
        }

        writer.EndMessage();
        return writer.ToArray();
    }

    private static byte[] ErrorResponse(uint code)
    {
        using var writer = new TpmWriter(TpmMessage.HeaderSize);
        writer.BeginMessage(TpmStructureTag.NoSessions, code);
        writer.EndMessage();
        return writer.ToArray();
    }

    /// <summary>Writes the state after a change, as a TPM commits NV before answering.</summary>
    private void Persist()
    {
        if (_store is null)
        {
            return;
        }

        try
        {
            _store.Save(State);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Forget the change so memory matches the disk; the caller learns why.
            _state = null;
            throw new TpmException($"The software TPM could not write its state to '{_store.Directory}': {e.Message}", e);
        }
    }

    /// <summary>Reads a TPM2B parameter, blaming it by number on a size error.</summary>
    private static ReadOnlySpan<byte> Sized(ref TpmReader reader, Context context, int parameter, int maxSize)
    {
        context.Parameter = parameter;
        return SoftwareTpmWrapping.ReadSized(ref reader, maxSize);
    }

    private sealed record CommandInfo(int Handles, int Authorizations, Handler Handler);

    /// <summary>One command's handles, authorizations, and the parameter being read (for the error position).</summary>
    private sealed class Context
    {
        public uint[] Handles { get; set; } = [];

        public List<TpmAuthCommand> Authorizations { get; } = [];

        public int Parameter { get; set; }
    }
}

using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>The TPM 2.0 commands of the DPS flow, marshalled by hand over a <see cref="TpmTransport"/>.</summary>
/// <remarks>
/// TPM 2.0 Library Part 3. One method per command, grouped by family in the partial files beside this one. Authorization is
/// by password (TPM_RS_PW) or by a plain policy session, so no command needs session HMACs. Commands that carry or return
/// secrets (Import's encryption key, ActivateCredential's credential) zero their buffers. A TPM that asks for a retry
/// (TPM_RC_RETRY, YIELDED, TESTING, NV_RATE) gets the same command again a few times.
/// </remarks>
internal sealed partial class TpmCommands(TpmTransport transport, TimeProvider? timeProvider = null)
{
    private const int MaxRetries = 5;

    private readonly TimeProvider _time = timeProvider ?? TimeProvider.System;

    public TpmTransport Transport => transport;

    /// <summary>Start the TPM when it says it is not started: a command answered TPM_RC_INITIALIZE gets TPM2_Startup(CLEAR)
    /// first, once, and is sent again. Firmware (or swtpm's <c>startup-clear</c>) has normally started the TPM, so this saves
    /// a Startup (refused with TPM_RC_INITIALIZE) on every boot, and still starts a TPM after a power cycle without firmware.</summary>
    public bool StartOnDemand { get; init; }

    private static TpmWriter BeginCommand(TpmCommandCode code, bool sessions)
    {
        var writer = new TpmWriter(512);
        writer.BeginMessage(sessions ? TpmStructureTag.Sessions : TpmStructureTag.NoSessions, (uint)code);
        return writer;
    }

    private static void WriteAuthorizations(TpmWriter writer, params ReadOnlySpan<TpmAuthCommand> authorizations)
    {
        var mark = writer.BeginSized32();
        foreach (var auth in authorizations)
        {
            auth.Write(writer);
        }

        writer.EndSized32(mark);
    }

    /// <summary>Sends the command and returns the whole successful response; throws <see cref="TpmException"/> on an error code.</summary>
    private async ValueTask<byte[]> SendAsync(TpmWriter command, TpmCommandCode code, CancellationToken cancellationToken)
    {
        command.EndMessage();
        var startupTried = false;
        for (var attempt = 0; ; attempt++)
        {
            var measured = TpmMetrics.Enabled;
            var started = measured ? _time.GetTimestamp() : 0;
            var response = await transport.ExecuteAsync(command.WrittenMemory, cancellationToken).ConfigureAwait(false);
            var reader = new TpmReader(response);
            var header = TpmMessage.ReadHeader(ref reader, response.Length);
            var retryable = header.Code != TpmResponseCode.Success && TpmResponseCode.IsRetryable(header.Code) && attempt < MaxRetries;
            if (measured)
            {
                TpmMetrics.RecordCommand(code, header.Code == TpmResponseCode.Success ? "success" : retryable ? "retry" : "error", _time.GetElapsedTime(started));
            }

            if (header.Code == TpmResponseCode.Success)
            {
                return response;
            }

            if (header.Code == TpmResponseCode.Initialize && StartOnDemand && code != TpmCommandCode.Startup && !startupTried)
            {
                startupTried = true;
                if (await StartupAsync(cancellationToken).ConfigureAwait(false))
                {
                    attempt--;
                    continue;
                }
            }

            if (retryable)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(20 << attempt), _time, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if ((header.Code & 0xFFFF) is TpmResponseCode.ObjectMemory or TpmResponseCode.SessionMemory)
            {
                throw new TpmException(header.Code, code, OutOfMemoryAdvice(header.Code));
            }

            throw new TpmException(header.Code, code);
        }
    }

    /// <summary>What TPM_RC_OBJECT_MEMORY / SESSION_MEMORY mean in practice: something else left objects or sessions loaded.</summary>
    private static string OutOfMemoryAdvice(uint responseCode)
    {
        var (what, flag) = (responseCode & 0xFFFF) == TpmResponseCode.ObjectMemory ? ("transient objects", "-t") : ("sessions", "-s");
        return $"The TPM has no room left for {what}: they were left loaded by another program (or by a process killed in the middle of a "
            + $"command), and this transport has no resource manager to flush them (/dev/tpm0, swtpm and the simulators keep loaded {what} "
            + $"across connections; this library flushes its own). Use the kernel resource manager /dev/tpmrm0 (spec 'device'), or flush them: "
            + $"tpm2_flushcontext {flag}.";
    }

    /// <summary>Positions a reader at the response parameters, after reading <paramref name="handles"/>.Length handles.</summary>
    /// <remarks>Part 1 §18.10: with TPM_ST_SESSIONS a UINT32 parameterSize precedes the parameters and the authorization
    /// area follows them; the reader returned is confined to the parameters.</remarks>
    internal static TpmReader OpenParameters(ReadOnlySpan<byte> response, Span<uint> handles)
        => OpenParameters(response, handles, out _);

    /// <summary>As <see cref="OpenParameters(ReadOnlySpan{byte}, Span{uint})"/>, also giving where the parameters start in <paramref name="response"/>.</summary>
    internal static TpmReader OpenParameters(ReadOnlySpan<byte> response, Span<uint> handles, out int offset)
    {
        var reader = new TpmReader(response);
        var header = TpmMessage.ReadHeader(ref reader, response.Length);
        for (var i = 0; i < handles.Length; i++)
        {
            handles[i] = reader.ReadUInt32();
        }

        if (header.Tag != TpmStructureTag.Sessions)
        {
            offset = reader.Position;
            return new TpmReader(reader.ReadRemaining());
        }

        var size = reader.ReadUInt32();
        if (size > (uint)reader.Remaining)
        {
            throw new TpmFormatException($"The response's parameterSize {size} exceeds the {reader.Remaining} byte(s) left.");
        }

        offset = reader.Position;
        return new TpmReader(reader.ReadBytes((int)size));
    }

    private static void Wipe(byte[] buffer) => CryptographicOperations.ZeroMemory(buffer);
}

using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Provisioning.Device.Tpm;

/// <summary>The calls of Windows' TPM Base Services (tbs.dll) the TBS transport makes: the seam behind which tests put a
/// fake TBS. Each returns a TBS_RESULT (0 for success).</summary>
internal interface ITbs
{
    /// <summary>Tbsi_Context_Create for TPM 2.0.</summary>
    uint CreateContext(out nint context);

    /// <summary>Tbsip_Submit_Command at locality 0, normal priority: blocks until the TPM answers or the command is cancelled.</summary>
    /// <param name="context">The context.</param>
    /// <param name="command">The command bytes.</param>
    /// <param name="response">Receives the response.</param>
    /// <param name="responseLength">In: the buffer size; out: the response size.</param>
    uint Submit(nint context, byte[] command, byte[] response, ref uint responseLength);

    /// <summary>Tbsip_Cancel_Commands: ends a blocked Submit of this context.</summary>
    uint Cancel(nint context);

    /// <summary>Tbsip_Context_Close.</summary>
    uint Close(nint context);
}

/// <summary>The TPM on Windows, through TPM Base Services (tbs.dll), which shares it between programs as /dev/tpmrm0 does on
/// Linux. Opened with the spec <c>device</c> on Windows.</summary>
/// <remarks>
/// One TBS context per transport, made by the first command. Tbsip_Submit_Command blocks, so it runs on a pool thread while
/// this waits with the command's deadline; a command past its deadline (or cancelled) is cancelled with Tbsip_Cancel_Commands
/// and the context is closed, so the next command starts with a new one. TBS results become <see cref="TpmException"/>s that
/// say what to do. Never run on Windows hardware from this repository: the command path above the seam is tested with a fake TBS.
/// </remarks>
internal sealed class TbsTpmTransport : TpmTransport
{
    internal const uint Success = 0;
    internal const uint InternalError = 0x80284001;
    internal const uint BadParameter = 0x80284002;
    internal const uint InvalidContext = 0x80284004;
    internal const uint InsufficientBuffer = 0x80284005;
    internal const uint IoError = 0x80284006;
    internal const uint ServiceNotRunning = 0x80284008;
    internal const uint TooManyContexts = 0x80284009;
    internal const uint TooManyResources = 0x8028400A;
    internal const uint ServiceStartPending = 0x8028400B;
    internal const uint CommandCanceled = 0x8028400D;
    internal const uint BufferTooLarge = 0x8028400E;
    internal const uint TpmNotFound = 0x8028400F;
    internal const uint ServiceDisabled = 0x80284010;
    internal const uint AccessDenied = 0x80284012;
    internal const uint Deactivated = 0x80284016;

    /// <summary>How long a cancelled Submit gets to return before the context is closed under it.</summary>
    private static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(5);

    private readonly ITbs _tbs;
    private readonly TpmTransportOptions _options;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private nint _context;
    private bool _disposed;

    public TbsTpmTransport(ITbs tbs, TpmTransportOptions options)
    {
        _tbs = tbs;
        _options = options;
    }

    public const string Description = "device (Windows TPM Base Services)";

    public override async ValueTask<byte[]> ExecuteAsync(ReadOnlyMemory<byte> command, CancellationToken cancellationToken = default)
    {
        if (command.Length < TpmMessage.HeaderSize)
        {
            throw new ArgumentException("A TPM command has at least a 10-byte header.", nameof(command));
        }

        var code = (TpmCommandCode)BinaryPrimitives.ReadUInt32BigEndian(command.Span.Slice(6, 4));
        var deadline = _options.TimeoutFor(code);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        var commandBytes = command.ToArray();
        var buffer = new byte[StreamTpmTransport.MaxMessageSize];
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_context == 0)
            {
                var created = _tbs.CreateContext(out var context);
                if (created != Success)
                {
                    throw Failure(created, "opening a TBS context");
                }

                _context = context;
            }

            var ctx = _context;
            var length = (uint)buffer.Length;
            var submit = Task.Run(() => _tbs.Submit(ctx, commandBytes, buffer, ref length), CancellationToken.None);
            uint result;
            try
            {
                result = await submit.WaitAsync(deadline, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                await AbandonAsync(submit).ConfigureAwait(false);
                if (e is OperationCanceledException)
                {
                    throw;
                }

                throw new TimeoutException(
                    $"The TPM ({Description}) did not answer TPM2_{Name(code)} within {StreamTpmTransport.Seconds(deadline)}: it is not answering. "
                    + "The command was cancelled through TBS. Quick commands may take "
                    + $"{StreamTpmTransport.Seconds(_options.Timeout)} and key generation {StreamTpmTransport.Seconds(_options.TimeoutFor(TpmCommandCode.CreatePrimary))} "
                    + "(TpmTransportOptions.Timeout and KeyGenerationTimeout; --tpm-timeout in the samples).",
                    e);
            }

            if (result != Success)
            {
                if (result is InvalidContext or CommandCanceled or IoError)
                {
                    CloseContext();
                }

                throw Failure(result, $"TPM2_{Name(code)}");
            }

            if (length < TpmMessage.HeaderSize || length > buffer.Length)
            {
                throw new TpmFormatException($"TBS returned a {length}-byte response to TPM2_{Name(code)}.");
            }

            var size = TpmMessage.PeekSize(buffer, buffer.Length);
            if (size != length)
            {
                throw new TpmFormatException($"TBS returned {length} bytes for a {size}-byte response.");
            }

            return buffer.AsSpan(0, (int)length).ToArray();
        }
        finally
        {
            // Responses can carry secrets (ActivateCredential), commands too (Import's key): clear the copies.
            CryptographicOperations.ZeroMemory(buffer);
            CryptographicOperations.ZeroMemory(commandBytes);
            _gate.Release();
        }
    }

    protected override async ValueTask DisposeAsyncCore()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            _disposed = true;
            CloseContext();
        }
        finally
        {
            _gate.Release();
        }

        await base.DisposeAsyncCore().ConfigureAwait(false);
    }

    /// <summary>Cancels a Submit that is past its deadline, gives it a moment to return, and closes the context.</summary>
    private async ValueTask AbandonAsync(Task<uint> submit)
    {
        _tbs.Cancel(_context);
        try
        {
            await submit.WaitAsync(CancelGrace).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Closing the context below ends it; the pool thread returns when TBS lets go.
        }

        CloseContext();
    }

    private void CloseContext()
    {
        if (_context != 0)
        {
            _tbs.Close(_context);
            _context = 0;
        }
    }

    private static string Name(TpmCommandCode code) => Enum.IsDefined(code) ? code.ToString() : $"0x{(uint)code:X}";

    /// <summary>A TBS result in words, with what to do.</summary>
    internal static TpmException Failure(uint result, string during)
    {
        var hex = $"0x{result:X8}";
        var (text, busy) = result switch
        {
            TpmNotFound => ("TBS_E_TPM_NOT_FOUND: Windows found no compatible TPM. Is a TPM 2.0 enabled in the firmware settings? tpm.msc shows its state", false),
            Deactivated => ("TBS_E_DEACTIVATED: the TPM is deactivated; enable it in the firmware settings (tpm.msc shows its state)", false),
            ServiceNotRunning => ("TBS_E_SERVICE_NOT_RUNNING: the TPM Base Services service is not running; start it (sc start TBS)", true),
            ServiceStartPending => ("TBS_E_SERVICE_START_PENDING: the TPM Base Services service is starting; try again in a moment", true),
            ServiceDisabled => ("TBS_E_SERVICE_DISABLED: the TPM Base Services service is disabled; set it to start (sc config TBS start= auto)", false),
            TooManyContexts => ("TBS_E_TOO_MANY_TBS_CONTEXTS: too many programs hold TBS contexts; close some or try again later", true),
            TooManyResources => ("TBS_E_TOO_MANY_RESOURCES: TBS has no room for more loaded objects; close other TPM programs or try again later", true),
            AccessDenied => ("TBS_E_ACCESS_DENIED: Windows refused this command to this user (TBS blocks some owner-hierarchy commands for non-administrators); run elevated", false),
            InsufficientBuffer => ("TBS_E_INSUFFICIENT_BUFFER: the response is larger than the 8 KiB buffer", false),
            BufferTooLarge => ("TBS_E_BUFFER_TOO_LARGE: the command is larger than TBS accepts", false),
            CommandCanceled => ("TBS_E_COMMAND_CANCELED: the command was cancelled", false),
            InvalidContext => ("TBS_E_INVALID_CONTEXT: the TBS context is no longer valid; the next command opens a new one", true),
            IoError => ("TBS_E_IOERROR: an error occurred talking to the TPM", false),
            InternalError => ("TBS_E_INTERNAL_ERROR: TBS reported an internal error (often transient)", true),
            BadParameter => ("TBS_E_BAD_PARAMETER", false),
            _ => ("an unknown TBS result", false),
        };
        return new TpmException($"TPM Base Services failed {during} with {hex}, {text}.") { IsBusy = busy };
    }
}

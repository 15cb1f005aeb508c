namespace Provisioning.Device.Tpm;

/// <summary>A TPM answered a command with an error, or a TPM-level precondition failed (such as an EK that differs from the template).</summary>
/// <remarks>The message is the decoded response code (TPM 2.0 Part 2 §6.6), e.g. <c>TPM2_ActivateCredential failed:
/// TPM_RC_INTEGRITY on parameter 1 (0x1DF): …</c>; <see cref="ResponseCode"/> keeps the raw code for callers that branch on it.</remarks>
public class TpmException : Exception
{
    /// <summary>Creates the exception for a response code returned by a command.</summary>
    /// <param name="responseCode">The raw TPM_RC.</param>
    /// <param name="command">The command that failed, if known.</param>
    public TpmException(uint responseCode, TpmCommandCode? command = null)
        : base(BuildMessage(responseCode, command))
    {
        ResponseCode = responseCode;
        Command = command;
    }

    /// <summary>Creates the exception with its own message for a response code (for example to say what to do about it).</summary>
    /// <param name="responseCode">The raw TPM_RC.</param>
    /// <param name="message">The explanation.</param>
    /// <param name="innerException">The exception that reported the code, if any.</param>
    public TpmException(uint responseCode, string message, Exception? innerException = null)
        : base(message, innerException)
    {
        ResponseCode = responseCode;
        Command = (innerException as TpmException)?.Command;
    }

    /// <summary>Creates the exception for a response code of a command, with advice after the decoded code.</summary>
    internal TpmException(uint responseCode, TpmCommandCode command, string advice)
        : base($"{BuildMessage(responseCode, command)}. {advice}")
    {
        ResponseCode = responseCode;
        Command = command;
    }

    /// <summary>Creates the exception for a failure that is not a TPM response code (<see cref="ResponseCode"/> is 0).</summary>
    public TpmException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and its cause (<see cref="ResponseCode"/> is 0).</summary>
    public TpmException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public TpmException()
        : base("The TPM operation failed.")
    {
    }

    /// <summary>The raw TPM_RC returned by the TPM; 0 when the failure did not come from a response code.</summary>
    public uint ResponseCode { get; }

    /// <summary>Whether the TPM could not be reached because it is in use or refused the connection (another client holds a
    /// TPM that serves one at a time, a device is held open, nothing accepts connections on that port), as opposed to a TPM
    /// that took the connection and then did not answer (a <see cref="TimeoutException"/>). Trying later may succeed.</summary>
    public bool IsBusy { get; init; }

    /// <summary>The command that failed, when known.</summary>
    public TpmCommandCode? Command { get; }

    /// <summary>The response code without layer and position bits (see <see cref="TpmResponseCode.BaseCode"/>).</summary>
    public uint BaseResponseCode => TpmResponseCode.BaseCode(ResponseCode);

    private static string BuildMessage(uint code, TpmCommandCode? command)
        => command is { } cc ? $"TPM2_{cc} failed: {TpmResponseCode.Describe(code)}" : TpmResponseCode.Describe(code);
}

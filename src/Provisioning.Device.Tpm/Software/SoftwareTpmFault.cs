namespace Provisioning.Device.Tpm;

/// <summary>Stops a software-TPM command with a response code, as the reference implementation's early returns do.</summary>
/// <remarks>Internal control flow only: the dispatcher turns it into a response and it never leaves the software TPM.</remarks>
internal sealed class SoftwareTpmFault : Exception
{
    public SoftwareTpmFault(uint responseCode)
        : base(TpmResponseCode.Describe(responseCode))
    {
        ResponseCode = responseCode;
    }

    public SoftwareTpmFault()
    {
    }

    public SoftwareTpmFault(string message)
        : base(message)
    {
    }

    public SoftwareTpmFault(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public uint ResponseCode { get; }

    /// <summary>A format-one code blamed on handle <paramref name="n"/> (1-based).</summary>
    public static SoftwareTpmFault OnHandle(uint code, int n) => new(code | ((uint)n << 8));

    /// <summary>A format-one code blamed on parameter <paramref name="n"/> (1-based).</summary>
    public static SoftwareTpmFault OnParameter(uint code, int n) => new(code | 0x40 | ((uint)n << 8));

    /// <summary>A format-one code blamed on session <paramref name="n"/> (1-based).</summary>
    public static SoftwareTpmFault OnSession(uint code, int n) => new(code | 0x800 | ((uint)n << 8));
}

namespace Provisioning.Device.Tpm;

/// <summary>Bytes from a TPM (or for one) that do not form the TPM 2.0 structure expected: truncated, oversized or out of range.</summary>
/// <remarks>Thrown by the marshalling layer instead of <see cref="IndexOutOfRangeException"/>; the message names the structure
/// and offset, never the bytes themselves.</remarks>
public sealed class TpmFormatException : Exception
{
    /// <summary>Creates the exception with a description of what was malformed.</summary>
    public TpmFormatException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a description and its cause.</summary>
    public TpmFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public TpmFormatException()
        : base("The TPM structure is malformed.")
    {
    }
}

using System.Globalization;

namespace Provisioning.Device.Tpm;

/// <summary>TPM_RC values and their decoding into readable text.</summary>
/// <remarks>
/// TPM 2.0 Library Part 2, §6.6 (TPM_RC). Format-one codes (bit 7 set) carry an error number in bits 0–5 and name the
/// handle (bits 8–10), session (bit 11 set, bits 8–10) or parameter (bit 6 set, bits 8–11) at fault; format-zero codes are
/// TPM_RC_VER1 (0x100) errors or TPM_RC_WARN (0x900) warnings. Bits 16–23 of a code from a TSS or resource manager name
/// that layer.
/// </remarks>
public static class TpmResponseCode
{
    /// <summary>TPM_RC_SUCCESS.</summary>
    public const uint Success = 0x000;

    /// <summary>TPM_RC_INITIALIZE: TPM2_Startup was already run (or is needed first).</summary>
    public const uint Initialize = 0x100;

    /// <summary>TPM_RC_FAILURE: the TPM is in failure mode.</summary>
    public const uint Failure = 0x101;

    /// <summary>TPM_RC_COMMAND_CODE: the command is not implemented.</summary>
    public const uint CommandCode = 0x143;

    /// <summary>TPM_RC_FMT1: the format-one bit.</summary>
    public const uint Format1 = 0x080;

    /// <summary>TPM_RC_WARN: the warning bit pattern of format zero.</summary>
    public const uint Warning = 0x900;

    /// <summary>TPM_RC_HANDLE (format one, no position).</summary>
    public const uint Handle = 0x08B;

    /// <summary>TPM_RC_VALUE (format one, no position).</summary>
    public const uint Value = 0x084;

    /// <summary>TPM_RC_SIZE (format one, no position).</summary>
    public const uint Size = 0x095;

    /// <summary>TPM_RC_AUTH_FAIL (format one, no position).</summary>
    public const uint AuthFail = 0x08E;

    /// <summary>TPM_RC_BAD_AUTH (format one, no position).</summary>
    public const uint BadAuth = 0x0A2;

    /// <summary>TPM_RC_INTEGRITY (format one, no position).</summary>
    public const uint Integrity = 0x09F;

    /// <summary>TPM_RC_OBJECT_MEMORY: no room for another transient object.</summary>
    public const uint ObjectMemory = 0x902;

    /// <summary>TPM_RC_SESSION_MEMORY: no room for another session.</summary>
    public const uint SessionMemory = 0x903;

    /// <summary>TPM_RC_YIELDED.</summary>
    public const uint Yielded = 0x908;

    /// <summary>TPM_RC_TESTING.</summary>
    public const uint Testing = 0x90A;

    /// <summary>TPM_RC_NV_RATE.</summary>
    public const uint NvRate = 0x920;

    /// <summary>TPM_RC_LOCKOUT: dictionary-attack lockout.</summary>
    public const uint Lockout = 0x921;

    /// <summary>TPM_RC_RETRY.</summary>
    public const uint Retry = 0x922;

    /// <summary>Whether the code is format one (names a handle, session or parameter).</summary>
    public static bool IsFormat1(uint code) => (code & Format1) != 0;

    /// <summary>The code without its TSS layer and, for format one, without the handle/session/parameter number.</summary>
    /// <example><c>0x98E</c> (AUTH_FAIL on session 1) gives <c>0x08E</c>.</example>
    public static uint BaseCode(uint code)
    {
        code &= 0xFFFF;
        return IsFormat1(code) ? (code & 0xBF) | Format1 : code;
    }

    /// <summary>Whether the TPM asks to send the same command again (RETRY, YIELDED, TESTING, NV_RATE).</summary>
    public static bool IsRetryable(uint code) => (code & 0xFFFF) is Retry or Yielded or Testing or NvRate;

    /// <summary>The readable form: the TPM_RC name, what is at fault, and a short meaning, e.g.
    /// <c>TPM_RC_AUTH_FAIL on session 1 (0x98E): the authorization HMAC check failed</c>.</summary>
    public static string Describe(uint code)
    {
        var hex = "0x" + code.ToString("X", CultureInfo.InvariantCulture);
        var layer = code >> 16;
        if (layer != 0)
        {
            var inner = Describe(code & 0xFFFF);
            return layer switch
            {
                0x0B => $"resource manager error {hex}: {inner}",
                0x0A => $"TPM resource manager (tabrmd) error {hex}: {inner}",
                _ => $"TSS layer {layer} error {hex}: {inner}",
            };
        }

        if (IsFormat1(code))
        {
            var number = (code >> 8) & 0x7;
            string where;
            if ((code & 0x40) != 0)
            {
                where = $" on parameter {(code >> 8) & 0xF}";
            }
            else if ((code & 0x800) != 0)
            {
                where = $" on session {number}";
            }
            else
            {
                where = number == 0 ? string.Empty : $" on handle {number}";
            }

            var (name, meaning) = Format1Names.TryGetValue(code & 0x3F, out var n) ? n : ($"TPM_RC_FMT1_{code & 0x3F:X2}", "unknown format-one error");
            return $"{name}{where} ({hex}): {meaning}";
        }

        if ((code & 0x100) == 0)
        {
            return code == 0 ? "TPM_RC_SUCCESS (0x0)" : $"TPM 1.2 response code {hex}: the device does not speak TPM 2.0";
        }

        if ((code & 0x400) != 0)
        {
            return $"vendor-specific TPM error {hex}";
        }

        var table = (code & 0x800) != 0 ? WarningNames : Version1Names;
        return table.TryGetValue(code & 0x7F, out var entry)
            ? $"{entry.Name} ({hex}): {entry.Meaning}"
            : $"unknown TPM {((code & 0x800) != 0 ? "warning" : "error")} {hex}";
    }

    private static readonly Dictionary<uint, (string Name, string Meaning)> Format1Names = new()
    {
        [0x01] = ("TPM_RC_ASYMMETRIC", "asymmetric algorithm not supported or not correct"),
        [0x02] = ("TPM_RC_ATTRIBUTES", "inconsistent attributes"),
        [0x03] = ("TPM_RC_HASH", "hash algorithm not supported or not appropriate"),
        [0x04] = ("TPM_RC_VALUE", "value is out of range or is not correct for the context"),
        [0x05] = ("TPM_RC_HIERARCHY", "hierarchy is not enabled or is not correct for the use"),
        [0x07] = ("TPM_RC_KEY_SIZE", "key size is not supported"),
        [0x08] = ("TPM_RC_MGF", "mask generation function not supported"),
        [0x09] = ("TPM_RC_MODE", "mode of operation not supported"),
        [0x0A] = ("TPM_RC_TYPE", "the type of the value is not appropriate for the use"),
        [0x0B] = ("TPM_RC_HANDLE", "the handle is not correct for the use (for example, nothing is persisted there)"),
        [0x0C] = ("TPM_RC_KDF", "unsupported key derivation function or function not appropriate for use"),
        [0x0D] = ("TPM_RC_RANGE", "value was out of allowed range"),
        [0x0E] = ("TPM_RC_AUTH_FAIL", "the authorization HMAC check failed and the dictionary-attack counter was incremented"),
        [0x0F] = ("TPM_RC_NONCE", "invalid nonce size or nonce value mismatch"),
        [0x10] = ("TPM_RC_PP", "authorization requires assertion of physical presence"),
        [0x12] = ("TPM_RC_SCHEME", "unsupported or incompatible scheme"),
        [0x15] = ("TPM_RC_SIZE", "structure is the wrong size (for example more than 1024 bytes of data in one command)"),
        [0x16] = ("TPM_RC_SYMMETRIC", "unsupported symmetric algorithm or key size, or not appropriate for instance"),
        [0x17] = ("TPM_RC_TAG", "incorrect structure tag"),
        [0x18] = ("TPM_RC_SELECTOR", "union selector is incorrect"),
        [0x1A] = ("TPM_RC_INSUFFICIENT", "the TPM was unable to unmarshal a value because there were not enough octets in the input buffer"),
        [0x1B] = ("TPM_RC_SIGNATURE", "the signature is not valid"),
        [0x1C] = ("TPM_RC_KEY", "key fields are not compatible with the selected use"),
        [0x1D] = ("TPM_RC_POLICY_FAIL", "a policy check failed"),
        [0x1F] = ("TPM_RC_INTEGRITY", "integrity check failed (the blob was not made for this TPM or was altered)"),
        [0x20] = ("TPM_RC_TICKET", "invalid ticket"),
        [0x21] = ("TPM_RC_RESERVED_BITS", "reserved bits not set to zero as required"),
        [0x22] = ("TPM_RC_BAD_AUTH", "authorization failure without dictionary-attack implications"),
        [0x23] = ("TPM_RC_EXPIRED", "the policy has expired"),
        [0x24] = ("TPM_RC_POLICY_CC", "the command code in the policy is not the command code of the command"),
        [0x25] = ("TPM_RC_BINDING", "public and sensitive portions of an object are not cryptographically bound"),
        [0x26] = ("TPM_RC_CURVE", "curve not supported"),
        [0x27] = ("TPM_RC_ECC_POINT", "point is not on the required curve"),
    };

    private static readonly Dictionary<uint, (string Name, string Meaning)> Version1Names = new()
    {
        [0x00] = ("TPM_RC_INITIALIZE", "TPM not initialized by TPM2_Startup or already initialized"),
        [0x01] = ("TPM_RC_FAILURE", "the TPM is in failure mode"),
        [0x03] = ("TPM_RC_SEQUENCE", "improper use of a sequence handle"),
        [0x0B] = ("TPM_RC_PRIVATE", "not currently used"),
        [0x19] = ("TPM_RC_HMAC", "not currently used"),
        [0x20] = ("TPM_RC_DISABLED", "the command is disabled"),
        [0x21] = ("TPM_RC_EXCLUSIVE", "the command failed because audit sequence required exclusivity"),
        [0x24] = ("TPM_RC_AUTH_TYPE", "authorization handle is not correct for the command"),
        [0x25] = ("TPM_RC_AUTH_MISSING", "the command requires an authorization session for a handle and it is not present"),
        [0x26] = ("TPM_RC_POLICY", "policy failure in math operation or an invalid authPolicy value"),
        [0x27] = ("TPM_RC_PCR", "PCR check fail"),
        [0x28] = ("TPM_RC_PCR_CHANGED", "PCR have changed since checked"),
        [0x2D] = ("TPM_RC_UPGRADE", "the TPM is in field upgrade mode"),
        [0x2E] = ("TPM_RC_TOO_MANY_CONTEXTS", "context ID counter is at maximum"),
        [0x2F] = ("TPM_RC_AUTH_UNAVAILABLE", "authValue or authPolicy is not available for the selected entity"),
        [0x30] = ("TPM_RC_REBOOT", "a _TPM_Init and Startup(CLEAR) is required before the TPM can resume operation"),
        [0x31] = ("TPM_RC_UNBALANCED", "the protection algorithms (hash and symmetric) are not reasonably balanced"),
        [0x42] = ("TPM_RC_COMMAND_SIZE", "command size value is inconsistent with contents of the command buffer"),
        [0x43] = ("TPM_RC_COMMAND_CODE", "command code not supported"),
        [0x44] = ("TPM_RC_AUTHSIZE", "the value of authorizationSize is out of range or the number of octets in the authorization area is greater than required"),
        [0x45] = ("TPM_RC_AUTH_CONTEXT", "use of an authorization session with a context command or another command that cannot have an authorization session"),
        [0x46] = ("TPM_RC_NV_RANGE", "NV offset+size is out of range"),
        [0x47] = ("TPM_RC_NV_SIZE", "requested allocation size is larger than allowed"),
        [0x48] = ("TPM_RC_NV_LOCKED", "NV access locked"),
        [0x49] = ("TPM_RC_NV_AUTHORIZATION", "NV access authorization fails in command actions"),
        [0x4A] = ("TPM_RC_NV_UNINITIALIZED", "an NV index is used before being initialized"),
        [0x4B] = ("TPM_RC_NV_SPACE", "insufficient space for NV allocation"),
        [0x4C] = ("TPM_RC_NV_DEFINED", "NV index or persistent object already defined"),
        [0x50] = ("TPM_RC_BAD_CONTEXT", "context in TPM2_ContextLoad is not valid"),
        [0x51] = ("TPM_RC_CPHASH", "cpHash value already set or not correct for use"),
        [0x52] = ("TPM_RC_PARENT", "handle for parent is not a valid parent"),
        [0x53] = ("TPM_RC_NEEDS_TEST", "some function needs testing"),
        [0x54] = ("TPM_RC_NO_RESULT", "an internal function cannot process a request due to an unspecified problem"),
        [0x55] = ("TPM_RC_SENSITIVE", "the sensitive area did not unmarshal correctly after decryption"),
    };

    private static readonly Dictionary<uint, (string Name, string Meaning)> WarningNames = BuildWarnings();

    private static Dictionary<uint, (string Name, string Meaning)> BuildWarnings()
    {
        var table = new Dictionary<uint, (string Name, string Meaning)>
        {
            [0x01] = ("TPM_RC_CONTEXT_GAP", "gap for context ID is too large"),
            [0x02] = ("TPM_RC_OBJECT_MEMORY", "out of memory for object contexts (flush transient objects)"),
            [0x03] = ("TPM_RC_SESSION_MEMORY", "out of memory for session contexts (flush sessions)"),
            [0x04] = ("TPM_RC_MEMORY", "out of shared object/session memory or need space for internal operations"),
            [0x05] = ("TPM_RC_SESSION_HANDLES", "out of session handles"),
            [0x06] = ("TPM_RC_OBJECT_HANDLES", "out of object handles"),
            [0x07] = ("TPM_RC_LOCALITY", "bad locality"),
            [0x08] = ("TPM_RC_YIELDED", "the TPM has suspended operation on the command; send it again"),
            [0x09] = ("TPM_RC_CANCELED", "the command was canceled"),
            [0x0A] = ("TPM_RC_TESTING", "the TPM is performing self-tests"),
            [0x20] = ("TPM_RC_NV_RATE", "the TPM is rate-limiting accesses to prevent wearout of NV"),
            [0x21] = ("TPM_RC_LOCKOUT", "authorizations for objects subject to DA protection are not allowed at this time because the TPM is in DA lockout mode"),
            [0x22] = ("TPM_RC_RETRY", "the TPM was not able to start the command; send it again"),
            [0x23] = ("TPM_RC_NV_UNAVAILABLE", "the command may require writing of NV and NV is not currently accessible"),
            [0x7F] = ("TPM_RC_NOT_USED", "this value is reserved and shall not be returned by the TPM"),
        };
        for (uint i = 0; i <= 6; i++)
        {
            table[0x10 + i] = ($"TPM_RC_REFERENCE_H{i}", $"the handle {i} reference is not available (not loaded)");
            table[0x18 + i] = ($"TPM_RC_REFERENCE_S{i}", $"the session {i} reference is not available (not loaded)");
        }

        return table;
    }
}

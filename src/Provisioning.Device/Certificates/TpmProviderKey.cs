using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Device;

/// <summary>Presents a TPM-resident key to TLS through OpenSSL's provider interface: Debian's <c>tpm2-openssl</c>
/// provider, opened with <see cref="SafeEvpPKeyHandle.OpenKeyFromProvider"/> (.NET 9+), the key named by its persistent
/// handle.</summary>
/// <remarks>The provider reads its TCTI from <c>TPM2OPENSSL_TCTI</c> each time it is loaded (.NET loads it in a library
/// context of its own for each opened key); when the process does not set the variable, it is set here from each key's
/// transport spec before the key is opened. swtpm serves one connection
/// at a time and the provider connects for each command: an open <c>TpmIdentity</c> on the same swtpm must release its
/// connection between commands (<c>TpmTransportOptions.ReleaseConnectionBetweenCommands</c>) or be closed, else the signature
/// waits for it. libssl signs through <see cref="OpenSslSigningBridge"/>.</remarks>
internal static partial class TpmProviderKey
{
    internal const string ProviderName = "tpm2";
    internal const string TctiVariable = "TPM2OPENSSL_TCTI";
    private static readonly Lock Gate = new();
    private static string? s_tctiSetHere; // the TCTI this class last set, under Gate

    /// <summary>The provider's TCTI for a transport spec, or null for one the provider cannot reach (the software TPM).</summary>
    public static string? TctiFor(string? spec)
    {
        if (string.IsNullOrWhiteSpace(spec))
        {
            return null;
        }

        int colon = spec.IndexOf(':', StringComparison.Ordinal);
        string kind = (colon < 0 ? spec : spec[..colon]).Trim().ToLowerInvariant();
        string? rest = colon < 0 ? null : spec[(colon + 1)..];
        switch (kind)
        {
            case "device":
                return "device:" + (rest ?? "/dev/tpmrm0");
            case "swtpm":
            case "mssim":
                int port = rest?.LastIndexOf(':') ?? -1;
                return port <= 0 ? null : $"{kind}:host={rest![..port].Trim('[', ']')},port={rest[(port + 1)..]}";
            default:
                return null;
        }
    }

    public static X509Certificate2 Attach(X509Certificate2 certificate, TpmCertificateKey key)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException(
                "A TPM-resident certificate key is presented to TLS through OpenSSL's tpm2-openssl provider, on Linux only. On other platforms " +
                "use a SoftwareCertificateKey for the hub connection (registration and CSR signing with the TPM key work everywhere).");
        }

        if (key.Algorithm != CertificateKeyAlgorithm.EccP256)
        {
            throw new PlatformNotSupportedException(
                $"TLS with a TPM-resident {key.Algorithm} key is not supported: TLS 1.3 signs with RSA-PSS, which OpenSSL's TLS can only " +
                "reach through a raw RSA private operation that a TPM signing key does not allow. Use an ECC P-256 TPM key (the default) " +
                "for the hub connection; RSA TPM keys still register and sign certificate requests.");
        }

        string tcti = key.ProviderTcti ?? throw new PlatformNotSupportedException(
            $"The TPM transport '{key.TransportSpec ?? "(none)"}' cannot be reached by OpenSSL's tpm2-openssl provider (it reaches device, swtpm " +
            "and mssim TPMs; the in-process software TPM has no TCTI). Open the key with the device's transport spec.");
        SafeEvpPKeyHandle handle;
        lock (Gate)
        {
            // The provider reads the variable each time .NET loads it (a library context per opened key): a value the process
            // set is kept, a value set here follows the key's TPM (a later key may be on another TPM, e.g. another swtpm).
            string? current = GetNativeVariable(TctiVariable);
            if (string.IsNullOrEmpty(current) || (s_tctiSetHere is not null && current == s_tctiSetHere))
            {
                if (current != tcti)
                {
                    SetNativeVariable(TctiVariable, tcti);
                }

                s_tctiSetHere = tcti;
            }

            try
            {
                handle = SafeEvpPKeyHandle.OpenKeyFromProvider(ProviderName, key.ProviderKeyUri);
            }
            catch (CryptographicException ex)
            {
                string? module = FindProviderModule(GetNativeVariable("OPENSSL_MODULES"), ModulesDirectory());
                throw new PlatformNotSupportedException(
                    module is not null
                        ? $"OpenSSL's tpm2 provider ({module}) could not open '{key.ProviderKeyUri}' through TCTI '{GetNativeVariable(TctiVariable)}': {ex.Message} " +
                          "Check that the TPM is reachable and the key is persisted at that handle."
                        : MissingProviderMessage(GetNativeVariable("OPENSSL_MODULES") ?? ModulesDirectory()),
                    ex);
            }
        }

        try
        {
            // The provider key signs in its own library context; libssl gets a bridge key whose one operation, the
            // CertificateVerify signature, is handed to it (see OpenSslSigningBridge for why libssl cannot use it directly).
            using SafeEvpPKeyHandle bridged = OpenSslSigningBridge.Wrap(new ECDsaOpenSsl(handle));
            using var ecdsa = new ECDsaOpenSsl(bridged);
            return certificate.CopyWithPrivateKey(ecdsa);
        }
        finally
        {
            handle.Dispose();
        }
    }

    /// <summary>The provider module OpenSSL would load: <c>tpm2.so</c> in <c>OPENSSL_MODULES</c> when set, else in OpenSSL's
    /// modules directory; null when absent.</summary>
    internal static string? FindProviderModule(string? modulesVariable, string? modulesDirectory)
    {
        string? directory = string.IsNullOrEmpty(modulesVariable) ? modulesDirectory : modulesVariable;
        if (string.IsNullOrEmpty(directory))
        {
            return null;
        }

        string path = Path.Combine(directory, ProviderName + ".so");
        return File.Exists(path) ? path : null;
    }

    /// <summary>What to install when the provider is absent.</summary>
    internal static string MissingProviderMessage(string? searched) =>
        $"OpenSSL's tpm2 provider is not installed (no {ProviderName}.so in {searched ?? "OpenSSL's modules directory"}): TLS with a TPM-resident " +
        "key needs it. Install the 'tpm2-openssl' package (Debian/Ubuntu: apt-get install tpm2-openssl; Fedora: dnf install tpm2-openssl) " +
        "with the TCTI library of the TPM's transport (libtss2-tcti-device0, libtss2-tcti-swtpm0 or libtss2-tcti-mssim0), or use a " +
        "SoftwareCertificateKey for the hub connection.";

    private static string? ModulesDirectory()
    {
        try
        {
            return Marshal.PtrToStringUTF8(OpenSslInfo(OpenSslInfoModulesDirectory));
        }
        catch (Exception ex) when (ex is DllNotFoundException or EntryPointNotFoundException)
        {
            return null; // no OpenSSL 3 here: the provider cannot be there either
        }
    }

    private const int OpenSslInfoModulesDirectory = 1003; // OPENSSL_INFO_MODULES_DIR

    [LibraryImport("libcrypto.so.3", EntryPoint = "OPENSSL_info")]
    private static partial IntPtr OpenSslInfo(int type);

    private static string? GetNativeVariable(string name) => Marshal.PtrToStringUTF8(GetEnv(name));

    private static void SetNativeVariable(string name, string value)
    {
        if (SetEnv(name, value, 1) != 0) // overwrite: the caller checked the value is empty or its own
        {
            throw new PlatformNotSupportedException($"Could not set {name} for OpenSSL's tpm2 provider; set it in the process environment.");
        }
    }

    [LibraryImport("libc", EntryPoint = "getenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial IntPtr GetEnv(string name);

    [LibraryImport("libc", EntryPoint = "setenv", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int SetEnv(string name, string value, int overwrite);
}

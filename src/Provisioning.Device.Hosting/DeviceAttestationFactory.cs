using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Provisioning.Device.Tpm;

namespace Provisioning.Device.Hosting;

/// <summary>Builds the attestation the options describe, reading its secret only now, from its file or environment variable.</summary>
internal static class DeviceAttestationFactory
{
    /// <summary>The attestation, and what else must be disposed after it (the TPM identity).</summary>
    public static (ProvisioningAttestation Attestation, IAsyncDisposable? Owned) Create(DeviceAttestationOptions options, ILoggerFactory? loggerFactory, TimeProvider time)
    {
        switch (options.Type)
        {
            case DeviceAttestationType.Tpm:
                var tpm = TpmIdentity.Open(options.Tpm, new TpmIdentityOptions { Logger = loggerFactory?.CreateLogger<TpmIdentity>(), TimeProvider = time });
                return (new TpmAttestation(tpm, options.RegistrationId), tpm);

            case DeviceAttestationType.SymmetricKey:
                var key = ReadSymmetricKey(options);
                return (options.IsGroupKey
                    ? SymmetricKeyAttestation.FromEnrollmentGroup(options.RegistrationId!, key)
                    : new SymmetricKeyAttestation(options.RegistrationId!, key), null);

            case DeviceAttestationType.X509:
                var (certificate, chain) = ReadCertificate(options);
                return (new X509Attestation(certificate, chain, options.RegistrationId), null);

            default:
                throw new InvalidOperationException($"Unknown attestation type {options.Type}.");
        }
    }

    private static string ReadSymmetricKey(DeviceAttestationOptions options)
    {
        string? key;
        string source;
        if (!string.IsNullOrWhiteSpace(options.SymmetricKeyEnvironmentVariable))
        {
            source = $"the environment variable '{options.SymmetricKeyEnvironmentVariable}'";
            key = Environment.GetEnvironmentVariable(options.SymmetricKeyEnvironmentVariable);
        }
        else
        {
            source = $"the file '{options.SymmetricKeyPath}'";
            key = File.ReadAllText(options.SymmetricKeyPath!);
        }

        key = key?.Trim();
        if (string.IsNullOrEmpty(key))
        {
            throw new InvalidOperationException($"DeviceProvisioning: {source} holds no symmetric key.");
        }

        return key;
    }

    private static (X509Certificate2 Certificate, X509Certificate2Collection? Chain) ReadCertificate(DeviceAttestationOptions options)
    {
        var path = options.CertificatePath!;
        var isPem = File.ReadAllText(path).Contains("-----BEGIN CERTIFICATE-----", StringComparison.Ordinal);
        if (!isPem)
        {
            var password = options.CertificatePasswordEnvironmentVariable is { Length: > 0 } variable ? Environment.GetEnvironmentVariable(variable) : null;
            return (X509CertificateLoader.LoadPkcs12FromFile(path, password), null);
        }

        var certificate = X509Certificate2.CreateFromPemFile(path, options.CertificateKeyPath);
        var all = new X509Certificate2Collection();
        all.ImportFromPemFile(path);
        var chain = new X509Certificate2Collection();
        foreach (var extra in all)
        {
            if (extra.Thumbprint == certificate.Thumbprint)
            {
                extra.Dispose();
            }
            else
            {
                chain.Add(extra);
            }
        }

        return (certificate, chain.Count > 0 ? chain : null);
    }
}

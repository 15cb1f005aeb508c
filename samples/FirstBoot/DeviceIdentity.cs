using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;

using Provisioning.Device;
using Provisioning.Device.Tpm;
using Provisioning.Emulator.Enrollments;

namespace Provisioning.Samples.FirstBoot;

/// <summary>
/// The device's identity for one attestation kind: what it registers with, how it is enrolled in the emulator, and how it
/// signs in to its hub afterwards. Emulator credentials are made once and kept in the state folder (owner-only), so every
/// run is the same device.
/// </summary>
internal sealed class DeviceIdentity : IAsyncDisposable
{
    private readonly TpmIdentity? _tpm;
    private readonly byte[]? _deviceKey;
    private readonly X509Certificate2? _certificate;

    private DeviceIdentity(ProvisioningAttestation attestation, string registrationId, string description,
        TpmIdentity? tpm = null, byte[]? endorsementKey = null, byte[]? deviceKey = null, X509Certificate2? certificate = null)
    {
        Attestation = attestation;
        RegistrationId = registrationId;
        Description = description;
        _tpm = tpm;
        EndorsementKey = endorsementKey;
        _deviceKey = deviceKey;
        _certificate = certificate;
    }

    public ProvisioningAttestation Attestation { get; }

    public string RegistrationId { get; }

    /// <summary>Where the identity lives, in words.</summary>
    public string Description { get; }

    /// <summary>The TPM, for TPM attestation (it can also hold the certificate key of <c>--csr</c>).</summary>
    public TpmIdentity? Tpm => _tpm;

    /// <summary>The TPM's transport spec, for TPM attestation.</summary>
    public string? TpmSpec { get; private init; }

    /// <summary>The EK (TPM2B_PUBLIC with its size prefix), for TPM.</summary>
    public byte[]? EndorsementKey { get; }

    public static async Task<DeviceIdentity> OpenAsync(FirstBootOptions options, string stateDirectory, CancellationToken cancellationToken)
    {
        switch (options.Attestation)
        {
            case AttestationKind.Tpm:
            {
                var spec = options.Tpm ?? "software:" + Path.Combine(stateDirectory, "tpm");
                var tpm = TpmIdentity.Open(spec, TpmOptions(options));
                try
                {
                    // Creates and persists the EK and SRK on first use, as tpm_device_provision does (dps-protocol.md §10).
                    await tpm.EnsureKeysAsync(cancellationToken).ConfigureAwait(false);
                    var ek = await tpm.GetEndorsementKeyAsync(cancellationToken).ConfigureAwait(false);
                    var id = options.RegistrationId ?? await tpm.GetRegistrationIdAsync(cancellationToken).ConfigureAwait(false);
                    var where = options.Tpm is null ? $"software TPM in {Path.Combine(stateDirectory, "tpm")}" : $"TPM {spec}";
                    return new DeviceIdentity(new TpmAttestation(tpm, options.RegistrationId), id, where, tpm, ek) { TpmSpec = spec };
                }
                catch
                {
                    await tpm.DisposeAsync().ConfigureAwait(false);
                    throw;
                }
            }

            case AttestationKind.Symmetric:
            {
                string id, keyText, where;
                if (!options.MakesOwnCredentials)
                {
                    id = options.RegistrationId!;
                    keyText = options.GroupKey is { } groupKey ? SymmetricKeyAttestation.DeriveDeviceKey(groupKey, id) : options.SymmetricKey!;
                    where = options.GroupKey is null ? "individual enrollment key" : "key derived from the enrollment group key";
                }
                else
                {
                    id = "firstboot-symmetric";
                    var path = Path.Combine(stateDirectory, "symmetric.key");
                    keyText = await StateFiles.ReadOrCreateTextAsync(path, () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), cancellationToken).ConfigureAwait(false);
                    where = $"device key in {path}";
                }

                var key = DecodeKey(keyText);
                return new DeviceIdentity(new SymmetricKeyAttestation(id, keyText), id, where, deviceKey: key);
            }

            default:
            {
                X509Certificate2 certificate;
                X509Certificate2Collection chain;
                string where;
                if (!options.MakesOwnCredentials)
                {
                    (certificate, chain) = LoadCertificate(options.Certificate!);
                    where = $"certificate {options.Certificate}";
                }
                else
                {
                    var path = Path.Combine(stateDirectory, "x509-device.pfx");
                    certificate = await StateFiles.ReadOrCreateCertificateAsync(path, "firstboot-x509", cancellationToken).ConfigureAwait(false);
                    chain = [];
                    where = $"self-signed certificate in {path}";
                }

                var attestation = new X509Attestation(certificate, chain, options.RegistrationId);
                var id = await attestation.GetRegistrationIdAsync(cancellationToken).ConfigureAwait(false);
                return new DeviceIdentity(attestation, id, where, certificate: certificate);
            }
        }
    }

    /// <summary>The hierarchy passwords and command deadline of <c>--owner-auth</c>, <c>--endorsement-auth</c> and
    /// <c>--tpm-timeout</c>. The password bytes live as long as the process's TPM identity (the options hold them).</summary>
    private static TpmIdentityOptions TpmOptions(FirstBootOptions options)
    {
        var transport = new TpmTransportOptions();
        if (options.TpmTimeout is { } timeout)
        {
            transport.Timeout = timeout;
        }

        // With --csr the certificate key may be in the TPM, and TLS to the hub then signs through OpenSSL's tpm2 provider, a second
        // client of the TPM: swtpm serves one connection at a time, so ours is released between commands.
        transport.ReleaseConnectionBetweenCommands = options.Csr is not null && options.KeyLocation != Provisioning.Device.CertificateKeyLocation.Software;

        return new TpmIdentityOptions
        {
            OwnerAuth = options.OwnerAuth is { } owner ? TpmAuthValue.Parse(owner, "--owner-auth") : default(ReadOnlyMemory<byte>),
            EndorsementAuth = options.EndorsementAuth is { } endorsement ? TpmAuthValue.Parse(endorsement, "--endorsement-auth") : default(ReadOnlyMemory<byte>),
            Transport = transport,
        };
    }

    /// <summary>Enrolls this device in the emulator (replacing an earlier enrollment: idempotent), over its linked hubs.</summary>
    public Task EnrollAsync(DpsEnrollments enrollments, CancellationToken cancellationToken)
    {
        if (EndorsementKey is { } ek)
        {
            return enrollments.AddTpmAsync(RegistrationId, ek, cancellationToken: cancellationToken);
        }

        if (_deviceKey is { } key)
        {
            return enrollments.AddSymmetricKeyAsync(RegistrationId, new EnrollmentSettings { PrimaryKey = Convert.ToBase64String(key) }, cancellationToken);
        }

        return enrollments.AddX509Async(RegistrationId, _certificate!, cancellationToken: cancellationToken);
    }

    /// <summary>The <c>attestation</c> of this device's individual enrollment in the DPS service API's shape, for <c>--enroll</c>.</summary>
    public JsonObject ServiceAttestation()
    {
        if (EndorsementKey is { } ek)
        {
            return new JsonObject { ["type"] = "tpm", ["tpm"] = new JsonObject { ["endorsementKey"] = Convert.ToBase64String(ek) } };
        }

        if (_deviceKey is { } key)
        {
            return new JsonObject { ["type"] = "symmetricKey", ["symmetricKey"] = new JsonObject { ["primaryKey"] = Convert.ToBase64String(key) } };
        }

        var certificate = new JsonObject { ["certificate"] = Convert.ToBase64String(_certificate!.RawData) };
        return new JsonObject { ["type"] = "x509", ["x509"] = new JsonObject { ["clientCertificates"] = new JsonObject { ["primary"] = certificate } } };
    }

    /// <summary>How the hub sign-in works, in words.</summary>
    public string HubCredentialDescription => _tpm is not null
        ? "SAS token signed inside the TPM"
        : _deviceKey is not null ? "SAS token signed with the device key" : "device certificate";

    public async ValueTask DisposeAsync()
    {
        Attestation.Dispose();
        if (_tpm is not null)
        {
            await _tpm.DisposeAsync().ConfigureAwait(false);
        }

        if (_deviceKey is not null)
        {
            CryptographicOperations.ZeroMemory(_deviceKey);
        }

        _certificate?.Dispose();
    }

    private static byte[] DecodeKey(string base64)
    {
        try
        {
            return Convert.FromBase64String(base64);
        }
        catch (FormatException)
        {
            throw new ArgumentException("the symmetric key is not base64");
        }
    }

    /// <summary>A PFX (no password), or a PEM holding the certificate, its private key and optionally the intermediates.</summary>
    private static (X509Certificate2 Certificate, X509Certificate2Collection Chain) LoadCertificate(string path)
    {
        if (!File.Exists(path))
        {
            throw new FileNotFoundException($"the certificate file '{path}' does not exist");
        }

        if (Path.GetExtension(path).ToLowerInvariant() is ".pfx" or ".p12")
        {
            var all = X509CertificateLoader.LoadPkcs12CollectionFromFile(path, password: null);
            var leaf = all.FirstOrDefault(c => c.HasPrivateKey) ?? throw new ArgumentException($"'{path}' holds no certificate with a private key");
            var rest = new X509Certificate2Collection();
            rest.AddRange(all.Where(c => !ReferenceEquals(c, leaf)).ToArray());
            return (leaf, rest);
        }

        var certificate = X509Certificate2.CreateFromPemFile(path);
        var chain = new X509Certificate2Collection();
        chain.ImportFromPemFile(path);
        var intermediates = new X509Certificate2Collection();
        intermediates.AddRange(chain.Where(c => c.Thumbprint != certificate.Thumbprint).ToArray());
        return (certificate, intermediates);
    }
}

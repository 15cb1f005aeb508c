using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Emulator.Certificates;

/// <summary>
/// The emulator's own certificate authority: a self-signed ECDSA P-256 root that issues the TLS server certificates of
/// the DPS endpoint and the linked hubs. Clients trust it explicitly (e.g. <c>X509ChainPolicy.CustomTrustStore</c> with
/// <c>TrustMode = CustomRootTrust</c>); nothing needs certificate validation switched off.
/// </summary>
/// <remarks>With a data folder the CA is kept there (<c>ca.pem</c>, <c>ca-key.pem</c>) so trust survives restarts.</remarks>
public sealed class EmulatorCertificateAuthority : IDisposable
{
    /// <summary>The file name of the CA certificate (PEM) in the data folder.</summary>
    public const string CertificateFileName = "ca.pem";

    private const string KeyFileName = "ca-key.pem";

    private readonly X509Certificate2 _authority;
    private readonly TimeProvider _time;

    private EmulatorCertificateAuthority(X509Certificate2 authority, string? pemPath, TimeProvider time)
    {
        _authority = authority;
        _time = time;
        CertificatePemPath = pemPath;
        Certificate = X509CertificateLoader.LoadCertificate(authority.RawData);
    }

    /// <summary>The CA certificate (public part only): what clients add to their trust store.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The path of the CA's PEM file, or null for an in-memory CA.</summary>
    public string? CertificatePemPath { get; }

    /// <summary>The CA certificate as PEM text.</summary>
    public string CertificatePem => Certificate.ExportCertificatePem();

    /// <summary>Creates a CA that lives only in memory.</summary>
    /// <param name="timeProvider">The clock for validity periods; the system clock when null.</param>
    public static EmulatorCertificateAuthority CreateEphemeral(TimeProvider? timeProvider = null)
    {
        var time = timeProvider ?? TimeProvider.System;
        return new EmulatorCertificateAuthority(CreateRoot(time), null, time);
    }

    /// <summary>Loads the CA from <paramref name="directory"/>, or creates it there on first use.</summary>
    /// <param name="directory">The emulator's data folder.</param>
    /// <param name="timeProvider">The clock for validity periods; the system clock when null.</param>
    public static EmulatorCertificateAuthority LoadOrCreate(string directory, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var time = timeProvider ?? TimeProvider.System;
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        var certPath = Path.Combine(directory, CertificateFileName);
        var keyPath = Path.Combine(directory, KeyFileName);
        if (File.Exists(certPath) && File.Exists(keyPath))
        {
            return new EmulatorCertificateAuthority(X509Certificate2.CreateFromPemFile(certPath, keyPath), certPath, time);
        }

        var root = CreateRoot(time);
        using (var key = root.GetECDsaPrivateKey()!)
        {
            // 0600 from its creation: the key is never readable by others, not even for a moment.
            var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var writer = new StreamWriter(keyPath, options);
            writer.Write(key.ExportPkcs8PrivateKeyPem());
        }

        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.WriteAllText(certPath, root.ExportCertificatePem());
        return new EmulatorCertificateAuthority(root, certPath, time);
    }

    /// <summary>Issues a TLS server certificate (with its private key) for the given DNS names or IP addresses.</summary>
    /// <param name="dnsNames">The names the certificate is valid for; IP literals become IP address SANs.</param>
    public X509Certificate2 IssueServerCertificate(params string[] dnsNames)
    {
        ArgumentNullException.ThrowIfNull(dnsNames);
        if (dnsNames.Length == 0)
        {
            throw new ArgumentException("At least one name is needed.", nameof(dnsNames));
        }

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(new X500DistinguishedName("CN=" + dnsNames[0]), key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in dnsNames)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(name, nameof(dnsNames));
            if (IPAddress.TryParse(name, out var address))
            {
                san.AddIpAddress(address);
            }
            else
            {
                san.AddDnsName(name);
            }
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_authority, true, false));

        var now = _time.GetUtcNow();
        var notAfter = now.AddDays(397) < _authority.NotAfter ? now.AddDays(397) : new DateTimeOffset(_authority.NotAfter.ToUniversalTime());
        using var issued = request.Create(_authority, now.AddHours(-1), notAfter, RandomNumberGenerator.GetBytes(16));
        return issued.CopyWithPrivateKey(key);
    }

    /// <summary>
    /// Issues a TLS client certificate for a device's PKCS#10 request (DPS certificate issuance, api-version
    /// 2025-07-01-preview: dps-protocol.md §9); the subject and public key come from the request.
    /// </summary>
    internal X509Certificate2 IssueClientCertificate(CertificateRequest request, TimeSpan validity)
    {
        var issued = new CertificateRequest(request.SubjectName, request.PublicKey, HashAlgorithmName.SHA256);
        issued.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        issued.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        issued.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        issued.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(_authority, true, false));
        var now = _time.GetUtcNow();
        using var signer = _authority.GetECDsaPrivateKey()!;
        // Backdated for clock skew by 5 minutes, or a tenth of a short validity (so a lifetime of seconds stays seconds).
        var backdate = validity / 10 < TimeSpan.FromMinutes(5) ? validity / 10 : TimeSpan.FromMinutes(5);
        return issued.Create(_authority.SubjectName, X509SignatureGenerator.CreateForECDsa(signer), now - backdate, now + validity, RandomNumberGenerator.GetBytes(16));
    }

    /// <summary>Disposes the CA's key material.</summary>
    public void Dispose()
    {
        _authority.Dispose();
        Certificate.Dispose();
    }

    private static X509Certificate2 CreateRoot(TimeProvider time)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(
            new X500DistinguishedName("CN=Provisioning.Emulator Root CA " + Guid.NewGuid().ToString("N")[..8]), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 1, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = time.GetUtcNow();
        return request.CreateSelfSigned(now.AddDays(-1), now.AddYears(10));
    }
}

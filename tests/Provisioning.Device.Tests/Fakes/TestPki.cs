using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Device.Tests.Fakes;

/// <summary>A throwaway PKI: a root, a server certificate for localhost, and a device leaf under an intermediate.</summary>
public sealed class TestPki : IDisposable
{
    private static readonly DateTimeOffset NotBefore = DateTimeOffset.UtcNow.AddDays(-1);
    private static readonly DateTimeOffset NotAfter = DateTimeOffset.UtcNow.AddDays(2);

    public TestPki()
    {
        Root = CreateCa("CN=Provisioning Test Root", issuer: null);
        Intermediate = CreateCa("CN=Provisioning Test Intermediate", Root);
        Server = CreateLeaf("CN=localhost", "localhost", Root, serverAuth: true);
        WrongNameServer = CreateLeaf("CN=elsewhere.example", "elsewhere.example", Root, serverAuth: true);
        Device = CreateLeaf("CN=tls-device", dnsName: null, Intermediate, serverAuth: false);
    }

    public X509Certificate2 Root { get; }

    public X509Certificate2 Intermediate { get; }

    public X509Certificate2 Server { get; }

    public X509Certificate2 WrongNameServer { get; }

    public X509Certificate2 Device { get; }

    /// <summary>The root without its private key, as a device would be given it.</summary>
    public X509Certificate2 PublicRoot => X509CertificateLoader.LoadCertificate(Root.RawData);

    /// <summary>The intermediate without its private key.</summary>
    public X509Certificate2 PublicIntermediate => X509CertificateLoader.LoadCertificate(Intermediate.RawData);

    /// <summary>A fresh localhost certificate issued by the intermediate.</summary>
    public X509Certificate2 IssueUnderIntermediate(bool serverAuth) => CreateLeaf("CN=localhost", "localhost", Intermediate, serverAuth);

    public void Dispose()
    {
        Root.Dispose();
        Intermediate.Dispose();
        Server.Dispose();
        WrongNameServer.Dispose();
        Device.Dispose();
    }

    private static X509Certificate2 CreateCa(string subject, X509Certificate2? issuer)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        if (issuer is null)
        {
            return request.CreateSelfSigned(NotBefore, NotAfter);
        }

        using X509Certificate2 signed = request.Create(issuer, NotBefore, NotAfter, RandomNumberGenerator.GetBytes(8));
        return signed.CopyWithPrivateKey(key);
    }

    /// <summary>A localhost server certificate under the root that expired five minutes ago.</summary>
    public X509Certificate2 IssueExpiredServer() =>
        CreateLeaf("CN=expired.localhost", "localhost", Root, serverAuth: true, NotBefore, DateTimeOffset.UtcNow.AddMinutes(-5));

    private static X509Certificate2 CreateLeaf(string subject, string? dnsName, X509Certificate2 issuer, bool serverAuth) =>
        CreateLeaf(subject, dnsName, issuer, serverAuth, NotBefore, NotAfter);

    private static X509Certificate2 CreateLeaf(string subject, string? dnsName, X509Certificate2 issuer, bool serverAuth, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (dnsName is not null)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName(dnsName);
            request.CertificateExtensions.Add(san.Build());
        }

        using X509Certificate2 signed = request.Create(issuer, notBefore, notAfter, RandomNumberGenerator.GetBytes(8));
        return signed.CopyWithPrivateKey(key);
    }
}

using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

using Provisioning.Device.Transport;
using Provisioning.Device.Transport.Http;

namespace Provisioning.Device.Tests;

public sealed class HttpHandlerTests
{
    [Fact]
    public void Handler_CarriesTheProxyTimeoutAndClientCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using X509Certificate2 certificate = new CertificateRequest("CN=dev", key, HashAlgorithmName.SHA256).CreateSelfSigned(DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(1));
        using var attestation = new X509Attestation(certificate);
        var proxy = new WebProxy("http://proxy.example:3128");
        var options = new ProvisioningClientOptions { Proxy = proxy, RequestTimeout = TimeSpan.FromSeconds(7) };

        using SocketsHttpHandler handler = ProvisioningHttpHandler.Create(attestation, options);

        Assert.Same(proxy, handler.Proxy);
        Assert.True(handler.UseProxy);
        Assert.Equal(TimeSpan.FromSeconds(7), handler.ConnectTimeout);
        Assert.Same(attestation.ClientCertificateContext, handler.SslOptions.ClientCertificateContext);
        Assert.Null(handler.SslOptions.RemoteCertificateValidationCallback);
        Assert.Null(handler.SslOptions.CertificateChainPolicy); // no extra roots: the system's validation, untouched
    }

    [Fact]
    public void Handler_WithExtraRoots_ValidatesWithThemButNeverForgivesANameMismatch()
    {
        using var pki = new Fakes.TestPki();
        var options = new ProvisioningClientOptions();
        options.TrustedRootCertificates.Add(pki.PublicRoot);
        using var attestation = new SymmetricKeyAttestation("d", Fakes.Dps.Key);

        using SocketsHttpHandler handler = ProvisioningHttpHandler.Create(attestation, options);

        Assert.NotNull(handler.SslOptions.RemoteCertificateValidationCallback);
        Assert.Null(handler.SslOptions.ClientCertificateContext);
        // The handshake builds its one chain against the extra roots, for server authentication, never switched off.
        X509ChainPolicy policy = Assert.IsType<X509ChainPolicy>(handler.SslOptions.CertificateChainPolicy);
        Assert.Equal(X509ChainTrustMode.CustomRootTrust, policy.TrustMode);
        Assert.Equal(pki.PublicRoot.Thumbprint, Assert.Single(policy.CustomTrustStore).Thumbprint);
        Assert.Equal("1.3.6.1.5.5.7.3.1", Assert.Single(policy.ApplicationPolicy.Cast<Oid>()).Value);
        Assert.Equal(X509VerificationFlags.NoFlag, policy.VerificationFlags);
        var roots = new X509Certificate2Collection { pki.PublicRoot };
        Assert.True(ServerCertificateTrust.IsTrusted(roots, pki.Server, null, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(ServerCertificateTrust.IsTrusted(roots, pki.Server, null, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors | System.Net.Security.SslPolicyErrors.RemoteCertificateNameMismatch));
        Assert.False(ServerCertificateTrust.IsTrusted([], pki.Server, null, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors));
        // The intermediates the server sent are used; but a client certificate is not a server certificate.
        using var presented = new X509Chain();
        presented.ChainPolicy.ExtraStore.Add(pki.PublicIntermediate);
        using X509Certificate2 serverUnderIntermediate = pki.IssueUnderIntermediate(serverAuth: true);
        Assert.True(ServerCertificateTrust.IsTrusted(roots, serverUnderIntermediate, presented, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(ServerCertificateTrust.IsTrusted(roots, serverUnderIntermediate, null, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors));
        Assert.False(ServerCertificateTrust.IsTrusted(roots, pki.Device, presented, System.Net.Security.SslPolicyErrors.RemoteCertificateChainErrors));
    }
}

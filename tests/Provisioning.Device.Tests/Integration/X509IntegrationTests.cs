using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Provisioning.Device.Tests.Integration;

/// <summary>X.509 registration over real mutual TLS against the in-process emulator (dps-protocol.md §4).</summary>
public sealed class X509IntegrationTests
{
    private static readonly DateTimeOffset NotBefore = DateTimeOffset.UtcNow.AddDays(-1);
    private static readonly DateTimeOffset NotAfter = DateTimeOffset.UtcNow.AddDays(2);

    [Fact]
    public async Task Register_IndividualCertificate_IsAssignedWithTheCertificateInfo()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        using X509Certificate2 device = CreateCertificate("CN=x509-device-01", issuer: null, isCa: false);
        await session.Dps.Enrollments.AddX509Async("x509-device-01", X509CertificateLoader.LoadCertificate(device.RawData), cancellationToken: ct);
        using var attestation = new X509Attestation(device);
        using var client = session.CreateClient(attestation, out RequestCounter counter);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("x509-device-01", result.DeviceId);
        Assert.NotNull(result.CertificateInfo);
        Assert.Equal(device.Thumbprint, result.CertificateInfo.Sha1Thumbprint, StringComparer.OrdinalIgnoreCase);
        Assert.Equal(2, counter.Total);
        var hubDevice = await session.Dps.HubRegistry.FindAsync(result.AssignedHub!, result.DeviceId!, ct);
        Assert.Equal(Convert.ToHexString(SHA256.HashData(device.RawData)), hubDevice?.Thumbprint);
    }

    /// <remarks>
    /// The group is enrolled with the root only; the intermediate reaches the service solely through the TLS handshake
    /// (the attestation's chain), never through a certificate store; the emulator builds the chain to the root with it.
    /// </remarks>
    [Fact]
    public async Task Register_GroupMemberUnderIntermediate_PresentsTheChainInTheHandshakeAndIsAssigned()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        using X509Certificate2 root = CreateCertificate("CN=Integration Root", issuer: null, isCa: true);
        using X509Certificate2 intermediate = CreateCertificate("CN=Integration Intermediate", root, isCa: true);
        using X509Certificate2 device = CreateCertificate("CN=x509-member-01", intermediate, isCa: false);
        await session.Dps.Enrollments.AddX509GroupAsync("x509-group", X509CertificateLoader.LoadCertificate(root.RawData), cancellationToken: ct);
        using var attestation = new X509Attestation(device, [X509CertificateLoader.LoadCertificate(intermediate.RawData)]);
        using var client = session.CreateClient(attestation, out _);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("x509-member-01", result.DeviceId);
        Assert.Equal("x509-group", result.EnrollmentGroupId);
    }

    [Fact]
    public async Task Register_GroupMemberWithoutItsIntermediate_IsRefused()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        using X509Certificate2 root = CreateCertificate("CN=Integration Root", issuer: null, isCa: true);
        using X509Certificate2 intermediate = CreateCertificate("CN=Integration Intermediate", root, isCa: true);
        using X509Certificate2 device = CreateCertificate("CN=x509-member-02", intermediate, isCa: false);
        await session.Dps.Enrollments.AddX509GroupAsync("x509-group", X509CertificateLoader.LoadCertificate(root.RawData), cancellationToken: ct);
        using var attestation = new X509Attestation(device);
        using var client = session.CreateClient(attestation, out _);

        var ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: ct));

        Assert.Equal(401002, ex.ErrorCode);
        Assert.False(ex.IsTransient);
    }

    internal static X509Certificate2 CreateCertificate(string subject, X509Certificate2? issuer, bool isCa)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(isCa, false, 0, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        if (isCa)
        {
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        }
        else
        {
            request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
        }

        if (issuer is null)
        {
            return request.CreateSelfSigned(NotBefore, NotAfter);
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        using X509Certificate2 signed = request.Create(issuer, NotBefore, NotAfter, RandomNumberGenerator.GetBytes(8));
        return signed.CopyWithPrivateKey(key);
    }
}

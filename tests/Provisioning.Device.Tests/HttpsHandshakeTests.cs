using System.Security.Cryptography.X509Certificates;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests;

/// <summary>Over a real loopback socket and real TLS: extra trusted roots, host name checks, the X.509 chain in the handshake.</summary>
public sealed class HttpsHandshakeTests : IClassFixture<HttpsHandshakeTests.Pki>
{
    private readonly TestPki _pki;

    public HttpsHandshakeTests(Pki pki)
    {
        _pki = pki.Value;
    }

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private ProvisioningClientOptions Options(bool trustRoot)
    {
        var options = new ProvisioningClientOptions { RequestTimeout = TimeSpan.FromSeconds(20) };
        if (trustRoot)
        {
            options.TrustedRootCertificates.Add(_pki.PublicRoot);
        }

        return options;
    }

    [Fact]
    public async Task Register_WithX509AndAnExtraTrustedRoot_PresentsTheChainAndIsAssigned()
    {
        await using var server = new TinyTlsServer(_pki.Server, Dps.Assigned("tls-device"));
        using var attestation = new X509Attestation(_pki.Device, [_pki.PublicIntermediate]);
        using var client = new ProvisioningDeviceClient($"localhost:{server.Port}", Dps.IdScope, attestation, Options(trustRoot: true));

        DeviceRegistrationResult result = await client.RegisterAsync(Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(["CN=tls-device"], server.ClientSubjects);
        Assert.Contains("CN=Provisioning Test Intermediate", server.ClientChainSubjects);
        Assert.Equal([$"PUT /{Dps.IdScope}/registrations/tls-device/register?api-version=2019-03-31 HTTP/1.1"], server.RequestLines);
    }

    [Fact]
    public async Task Register_WithoutTheRootTrusted_FailsTheHandshakeWithoutRetrying()
    {
        await using var server = new TinyTlsServer(_pki.Server, Dps.Assigned("tls-device"));
        using var attestation = new X509Attestation(_pki.Device, [_pki.PublicIntermediate]);
        using var client = new ProvisioningDeviceClient($"localhost:{server.Port}", Dps.IdScope, attestation, Options(trustRoot: false));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("TLS", ex.Message, StringComparison.Ordinal);
        Assert.Empty(server.RequestLines);
    }

    [Fact]
    public async Task Register_WhenTheServerNameDoesNotMatch_FailsEvenWithTheRootTrusted()
    {
        await using var server = new TinyTlsServer(_pki.WrongNameServer, Dps.Assigned("tls-device"));
        using var attestation = new X509Attestation(_pki.Device, [_pki.PublicIntermediate]);
        using var client = new ProvisioningDeviceClient($"localhost:{server.Port}", Dps.IdScope, attestation, Options(trustRoot: true));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        Assert.False(ex.IsTransient);
        Assert.Empty(server.RequestLines);
    }

    public sealed class Pki : IDisposable
    {
        public TestPki Value { get; } = new();

        public void Dispose() => Value.Dispose();
    }
}

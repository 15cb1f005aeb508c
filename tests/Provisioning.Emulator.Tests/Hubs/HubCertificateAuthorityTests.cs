using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Formatter;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Emulator.Tests.Hubs;

/// <summary>IoT Hub's CA-signed X.509 authentication on an emulated hub (issue 16): a device registered as
/// <see cref="HubCredentialKind.CertificateAuthority"/> is accepted with any valid certificate from the trusted CA whose CN is
/// its device id, and refused (CONNACK 5, as IoT Hub answers) with a forged, foreign, mis-named, expired or not-yet-valid one.
/// Real TLS, the real MQTTnet server, a plain MQTTnet client.</summary>
public sealed class HubCertificateAuthorityTests : IAsyncLifetime
{
    private const string Hub = "ca-hub.azure-devices.net";
    private const string Device = "ca-dev";
    private const string ClientAuth = "1.3.6.1.5.5.7.3.2";
    private const string ServerAuth = "1.3.6.1.5.5.7.3.1";
    private readonly InMemoryHubDeviceRegistry _registry = new();
    private readonly ECDsa _caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _otherCaKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly DateTimeOffset _now = DateTimeOffset.UtcNow;
    private X509Certificate2 _ca = null!;
    private X509Certificate2 _otherCa = null!;
    private X509Certificate2 _forgedCa = null!;
    private X509Certificate2 _server = null!;
    private EmulatedIotHub _hub = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync()
    {
        _ca = Root("CN=Device CA", _caKey);
        _otherCa = Root("CN=Other CA", _otherCaKey);
        _forgedCa = Root("CN=Device CA", _otherCaKey); // the trusted CA's name, another key
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={Hub}", serverKey, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(Hub);
        request.CertificateExtensions.Add(san.Build());
        using var issued = request.Create(_ca, _now.AddHours(-1), _now.AddHours(23), [9, 9, 9]);
        using var withKey = issued.CopyWithPrivateKey(serverKey);
        _server = X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
        await _registry.UpsertAsync(new HubDevice(Hub, Device, HubCredentialKind.CertificateAuthority, null, null, null, true, null), Ct);
        await _registry.UpsertAsync(new HubDevice(Hub, "ca-dev-2", HubCredentialKind.CertificateAuthority, null, null, null, true, null), Ct);
        _hub = await EmulatedIotHub.StartAsync(new EmulatedIotHubOptions
        {
            HubHostName = Hub,
            ServerCertificate = _server,
            Registry = _registry,
            DeviceCertificateAuthorities = [X509CertificateLoader.LoadCertificate(_ca.RawData)],
        }, Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _hub.DisposeAsync();
        _server.Dispose();
        _ca.Dispose();
        _otherCa.Dispose();
        _forgedCa.Dispose();
        _caKey.Dispose();
        _otherCaKey.Dispose();
    }

    [Theory]
    [InlineData("issued by the CA, clientAuth", MqttClientConnectResultCode.Success)]
    [InlineData("issued by the CA, no extended key usage", MqttClientConnectResultCode.Success)]
    [InlineData("self-signed with the device id", MqttClientConnectResultCode.NotAuthorized)]
    [InlineData("issued by another CA", MqttClientConnectResultCode.NotAuthorized)]
    [InlineData("forged: the CA's name, another key", MqttClientConnectResultCode.NotAuthorized)]
    [InlineData("CN of another device", MqttClientConnectResultCode.NotAuthorized)]
    [InlineData("CN differs in case", MqttClientConnectResultCode.NotAuthorized)]
    [InlineData("expired", MqttClientConnectResultCode.NotAuthorized)]
    [InlineData("not yet valid", MqttClientConnectResultCode.NotAuthorized)]
    [InlineData("serverAuth only", MqttClientConnectResultCode.NotAuthorized)]
    [InlineData("no certificate", MqttClientConnectResultCode.NotAuthorized)]
    public async Task Connect_WithCertificate_IsAcceptedOnlyWhenItChainsToTheCaAndNamesTheDevice(string kind, MqttClientConnectResultCode expected)
    {
        using var certificate = kind switch
        {
            "issued by the CA, clientAuth" => Leaf(Device, _ca, _caKey, _now.AddMinutes(-5), _now.AddHours(1), ClientAuth),
            "issued by the CA, no extended key usage" => Leaf(Device, _ca, _caKey, _now.AddMinutes(-5), _now.AddHours(1), eku: null),
            "self-signed with the device id" => SelfSigned(Device),
            "issued by another CA" => Leaf(Device, _otherCa, _otherCaKey, _now.AddMinutes(-5), _now.AddHours(1), ClientAuth),
            "forged: the CA's name, another key" => Leaf(Device, _forgedCa, _otherCaKey, _now.AddMinutes(-5), _now.AddHours(1), ClientAuth),
            "CN of another device" => Leaf("ca-dev-2", _ca, _caKey, _now.AddMinutes(-5), _now.AddHours(1), ClientAuth),
            "CN differs in case" => Leaf("CA-DEV", _ca, _caKey, _now.AddMinutes(-5), _now.AddHours(1), ClientAuth),
            "expired" => Leaf(Device, _ca, _caKey, _now.AddHours(-3), _now.AddHours(-2), ClientAuth),
            "not yet valid" => Leaf(Device, _ca, _caKey, _now.AddHours(2), _now.AddHours(3), ClientAuth),
            "serverAuth only" => Leaf(Device, _ca, _caKey, _now.AddMinutes(-5), _now.AddHours(1), ServerAuth),
            _ => null,
        };

        var result = await ConnectAsync(Device, certificate);

        Assert.Equal(expected, result);
        if (expected != MqttClientConnectResultCode.Success)
        {
            Assert.Equal(0, _hub.GetConnectionCount(Device)); // a refused CONNECT never becomes a connection
        }
    }

    [Fact]
    public async Task Connect_AfterRenewal_AcceptsBothThePreviousAndTheNewCertificateWhileValid()
    {
        // IoT Hub's CA authentication does not track issued certificates: the one a renewal replaced keeps working until it
        // expires (EmulatedIotHub.CheckCertificateAuthority, emulator README).
        using var previous = Leaf(Device, _ca, _caKey, _now.AddMinutes(-10), _now.AddMinutes(30), ClientAuth);
        using var renewed = Leaf(Device, _ca, _caKey, _now.AddMinutes(-1), _now.AddHours(2), ClientAuth);

        Assert.Equal(MqttClientConnectResultCode.Success, await ConnectAsync(Device, renewed));
        Assert.Equal(MqttClientConnectResultCode.Success, await ConnectAsync(Device, previous));
    }

    [Fact]
    public async Task Connect_ToAHubTrustingNoDeviceCa_IsRefused()
    {
        await using var hub = await EmulatedIotHub.StartAsync(new EmulatedIotHubOptions { HubHostName = Hub, ServerCertificate = _server, Registry = _registry }, Ct);
        using var certificate = Leaf(Device, _ca, _caKey, _now.AddMinutes(-5), _now.AddHours(1), ClientAuth);

        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, await ConnectAsync(Device, certificate, hub));
    }

    [Theory]
    [InlineData("empty", 400, 400004, false)]
    [InlineData("not JSON", 400, 400006, false)]
    [InlineData("array", 400, 400004, false)]
    [InlineData("another id", 400, 400004, false)]
    [InlineData("unknown field", 400, 400004, false)]
    [InlineData("csr not base64", 400, 400004, false)]
    [InlineData("csr over 8 KB", 400, 400004, false)]
    [InlineData("csr not PKCS#10", 400, 400037, true)]
    [InlineData("csr for another CN", 400, 400037, true)]
    [InlineData("replace malformed", 400, 400004, false)]
    [InlineData("replace an id not pending", 412, 412001, false)]
    [InlineData("replace any", 200, 0, true)]
    [InlineData("good", 200, 0, true)]
    public async Task IssueCertificate_AnswersIotHubsCodes(string kind, int status, int errorCode, bool acceptedFirst)
    {
        // The codes IoT Hub answers (HubCredentialErrors): payload faults at once, a CSR the backend refuses after the 202.
        await using var hub = await EmulatedIotHub.StartAsync(new EmulatedIotHubOptions
        {
            HubHostName = Hub,
            ServerCertificate = _server,
            Registry = _registry,
            DeviceCertificateAuthorities = [X509CertificateLoader.LoadCertificate(_ca.RawData)],
            CertificateIssuer = request =>
            {
                using var issued = request.Create(_ca.SubjectName, X509SignatureGenerator.CreateForECDsa(_caKey), _now.AddMinutes(-1), _now.AddHours(1), [7, 7]);
                return [issued.RawData, _ca.RawData];
            },
        }, Ct);
        using var certificate = Leaf(Device, _ca, _caKey, _now.AddMinutes(-5), _now.AddHours(1), ClientAuth);
        using var client = new MqttClientFactory().CreateMqttClient();
        var responses = System.Threading.Channels.Channel.CreateUnbounded<(string Topic, string Body)>();
        client.ApplicationMessageReceivedAsync += e =>
        {
            responses.Writer.TryWrite((e.ApplicationMessage.Topic, e.ApplicationMessage.ConvertPayloadToString() ?? ""));
            return Task.CompletedTask;
        };
        var connected = await client.ConnectAsync(new MqttClientOptionsBuilder()
            .WithTcpServer(hub.EndPoint.Address.ToString(), hub.EndPoint.Port)
            .WithClientId(Device)
            .WithCredentials($"{Hub}/{Device}/?api-version=2025-08-01-preview")
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithTlsOptions(o => o.UseTls().WithTargetHost(Hub).WithTrustChain([_ca]).WithRevocationMode(X509RevocationMode.NoCheck).WithClientCertificates([certificate]))
            .Build(), Ct);
        Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
        await client.SubscribeAsync("$iothub/credentials/res/#", MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce, Ct);

        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string Csr(string cn) => Convert.ToBase64String(new CertificateRequest($"CN={cn}", key, HashAlgorithmName.SHA256).CreateSigningRequest());
        var payload = kind switch
        {
            "empty" => "",
            "not JSON" => "{\"id\":\"ca-dev\",\"csr\":",
            "array" => "[\"not\",\"an\",\"object\"]",
            "another id" => $"{{\"id\":\"ca-dev-2\",\"csr\":\"{Csr(Device)}\"}}",
            "unknown field" => $"{{\"id\":\"ca-dev\",\"csr\":\"{Csr(Device)}\",\"extra\":1}}",
            "csr not base64" => "{\"id\":\"ca-dev\",\"csr\":\"not-valid-base64!!@@##\"}",
            "csr over 8 KB" => $"{{\"id\":\"ca-dev\",\"csr\":\"{new string('A', 10 * 1024)}\"}}",
            "csr not PKCS#10" => "{\"id\":\"ca-dev\",\"csr\":\"AAAAAAAA\"}",
            "csr for another CN" => $"{{\"id\":\"ca-dev\",\"csr\":\"{Csr("someone-else")}\"}}",
            "replace malformed" => $"{{\"id\":\"ca-dev\",\"csr\":\"{Csr(Device)}\",\"replace\":\"123\"}}",
            "replace an id not pending" => $"{{\"id\":\"ca-dev\",\"csr\":\"{Csr(Device)}\",\"replace\":\"db8c0f73-ac73-4b90-bba4-8a26ae2fcb27\"}}",
            "replace any" => $"{{\"id\":\"ca-dev\",\"csr\":\"{Csr(Device)}\",\"replace\":\"*\"}}",
            _ => $"{{\"id\":\"ca-dev\",\"csr\":\"{Csr(Device)}\"}}",
        };
        await client.PublishStringAsync("$iothub/credentials/POST/issueCertificate/?$rid=42", payload, MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce, cancellationToken: Ct);

        using var guard = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        guard.CancelAfter(TimeSpan.FromSeconds(30)); // a hang guard, not a timed assertion
        var (topic, body) = await responses.Reader.ReadAsync(guard.Token);
        if (acceptedFirst)
        {
            Assert.Equal("$iothub/credentials/res/202/?$rid=42", topic);
            (topic, body) = await responses.Reader.ReadAsync(guard.Token);
        }

        Assert.Equal($"$iothub/credentials/res/{status}/?$rid=42", topic);
        using var document = System.Text.Json.JsonDocument.Parse(body);
        if (status == 200)
        {
            Assert.Equal(2, document.RootElement.GetProperty("certificates").GetArrayLength());
            return;
        }

        Assert.Equal(errorCode, document.RootElement.GetProperty("errorCode").GetInt32());
        if (errorCode == 400037)
        {
            var info = document.RootElement.GetProperty("info");
            Assert.Equal("400000", info.GetProperty("credentialError").GetString());
            Assert.Equal("CSR did not pass verification", info.GetProperty("credentialMessage").GetString());
        }
    }

    private async Task<MqttClientConnectResultCode> ConnectAsync(string deviceId, X509Certificate2? certificate, EmulatedIotHub? hub = null)
    {
        hub ??= _hub;
        using var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(hub.EndPoint.Address.ToString(), hub.EndPoint.Port)
            .WithClientId(deviceId)
            .WithCredentials($"{Hub}/{deviceId}/?api-version=2025-08-01-preview")
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithTlsOptions(o =>
            {
                o.UseTls().WithTargetHost(Hub).WithTrustChain([_ca]).WithRevocationMode(X509RevocationMode.NoCheck);
                if (certificate is not null)
                {
                    o.WithClientCertificates([certificate]);
                }
            })
            .Build();
        var result = await client.ConnectAsync(options, Ct);
        if (result.ResultCode == MqttClientConnectResultCode.Success)
        {
            await client.DisconnectAsync(cancellationToken: Ct);
        }

        return result.ResultCode;
    }

    private X509Certificate2 Root(string name, ECDsa key)
    {
        var request = new CertificateRequest(name, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(_now.AddDays(-1), _now.AddDays(1));
    }

    private static X509Certificate2 Leaf(string commonName, X509Certificate2 issuer, ECDsa issuerKey, DateTimeOffset notBefore, DateTimeOffset notAfter, string? eku)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        if (eku is not null)
        {
            request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(eku)], false));
        }

        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        using var issued = request.Create(issuer.SubjectName, X509SignatureGenerator.CreateForECDsa(issuerKey), notBefore, notAfter, RandomNumberGenerator.GetBytes(8));
        using var withKey = issued.CopyWithPrivateKey(key);
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), null);
    }

    private X509Certificate2 SelfSigned(string commonName)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(ClientAuth)], false));
        using var created = request.CreateSelfSigned(_now.AddMinutes(-5), _now.AddHours(1));
        return X509CertificateLoader.LoadPkcs12(created.Export(X509ContentType.Pkcs12), null);
    }
}

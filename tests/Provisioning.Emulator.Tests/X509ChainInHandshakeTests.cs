using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;

using Provisioning.Emulator.Tests.Mqtt;
using Provisioning.Emulator.Tests.Support;

namespace Provisioning.Emulator.Tests;

/// <summary>
/// A group enrolled by its root; the device's intermediate reaches the service only in the TLS handshake, as real devices
/// send it (dps-protocol.md §4). The intermediate fills the chain but is never a trust anchor: the chain must end at the
/// enrolled signer, over HTTPS and over MQTT alike.
/// </summary>
public sealed class X509ChainInHandshakeTests : IDisposable
{
    private readonly X509Certificate2 _root = TestCertificates.Root("Fleet Root");
    private readonly X509Certificate2 _intermediate;
    private readonly X509Certificate2 _otherRoot = TestCertificates.Root("Fleet Root");
    private readonly X509Certificate2 _otherIntermediate;

    public X509ChainInHandshakeTests()
    {
        _intermediate = TestCertificates.Intermediate(_root, "Fleet Intermediate");

        // Same names as the real chain, another key: only signatures tell them apart.
        _otherIntermediate = TestCertificates.Intermediate(_otherRoot, "Fleet Intermediate");
    }

    [Fact]
    public async Task Https_LeafAndIntermediateInHandshake_GroupEnrolledByRoot_IsAssigned()
    {
        await using var dps = await StartWithRootGroupAsync();
        using var leaf = TestCertificates.Leaf(_intermediate, "chain-h1");
        using var client = TestDps.Client(dps, Context(leaf, _intermediate));

        var final = await TestDps.RegisterToEndAsync(client, dps, "chain-h1", sas: null);

        var x509 = final.GetProperty("registrationState").GetProperty("x509");
        Assert.Equal("fleet", x509.GetProperty("enrollmentGroupId").GetString());
        Assert.Equal(_root.Thumbprint, x509.GetProperty("signingCertificateInfo").GetProperty("sha1Thumbprint").GetString());
    }

    [Fact]
    public async Task Https_OnlyTheLeafInHandshake_GroupEnrolledByRoot_Answers401002()
    {
        await using var dps = await StartWithRootGroupAsync();
        using var leaf = TestCertificates.Leaf(_intermediate, "chain-h2");
        using var client = TestDps.Client(dps, Context(leaf));

        using var response = await client.SendAsync(TestDps.Register(dps, "chain-h2"), TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task Https_ChainToAnotherRootWithTheSameNames_Answers401002()
    {
        await using var dps = await StartWithRootGroupAsync();
        using var leaf = TestCertificates.Leaf(_otherIntermediate, "chain-h3");
        using var client = TestDps.Client(dps, Context(leaf, _otherIntermediate, _otherRoot));

        using var response = await client.SendAsync(TestDps.Register(dps, "chain-h3"), TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task Https_IntermediateInHandshakeButCommonNameDiffersFromUrl_Answers401002()
    {
        await using var dps = await StartWithRootGroupAsync();
        using var leaf = TestCertificates.Leaf(_intermediate, "chain-h4");
        using var client = TestDps.Client(dps, Context(leaf, _intermediate));

        using var response = await client.SendAsync(TestDps.Register(dps, "someone-else"), TestContext.Current.CancellationToken);

        await TestDps.AssertErrorAsync(response, HttpStatusCode.Unauthorized, 401002);
    }

    [Fact]
    public async Task Mqtt_LeafAndIntermediateInHandshake_GroupEnrolledByRoot_IsAssigned()
    {
        await using var dps = await StartWithRootGroupAsync();
        using var leaf = TestCertificates.Leaf(_intermediate, "chain-m1");
        await using var tls = await RawMqtt.OpenAsync(dps, Context(leaf, _intermediate));

        Assert.Equal(0, await ConnectAsync(tls, dps, "chain-m1"));
        await tls.WriteAsync(RawMqtt.Packet(0x82, [0, 1, .. RawMqtt.Str("$dps/registrations/res/#"), 1]), TestContext.Current.CancellationToken);
        Assert.Equal(0x90, (await RawMqtt.ReadAsync(tls)).Type);
        var (accepted, assigning) = await RequestAsync(tls, "$dps/registrations/PUT/iotdps-register/?$rid=1", packetId: 2);
        var (done, final) = await RequestAsync(tls, $"$dps/registrations/GET/iotdps-get-operationstatus/?$rid=2&operationId={assigning.GetProperty("operationId").GetString()}", packetId: 3);

        Assert.StartsWith("$dps/registrations/res/202/", accepted, StringComparison.Ordinal);
        Assert.StartsWith("$dps/registrations/res/200/", done, StringComparison.Ordinal);
        var state = final.GetProperty("registrationState");
        Assert.Equal("assigned", state.GetProperty("status").GetString());
        Assert.Equal("fleet", state.GetProperty("x509").GetProperty("enrollmentGroupId").GetString());
    }

    [Fact]
    public async Task Mqtt_OnlyTheLeafInHandshake_IsRefusedNotAuthorized()
    {
        await using var dps = await StartWithRootGroupAsync();
        using var leaf = TestCertificates.Leaf(_intermediate, "chain-m2");
        await using var tls = await RawMqtt.OpenAsync(dps, Context(leaf));

        Assert.Equal(5, await ConnectAsync(tls, dps, "chain-m2"));
    }

    [Fact]
    public async Task Mqtt_ChainToAnotherRootWithTheSameNames_IsRefusedNotAuthorized()
    {
        await using var dps = await StartWithRootGroupAsync();
        using var leaf = TestCertificates.Leaf(_otherIntermediate, "chain-m3");
        await using var tls = await RawMqtt.OpenAsync(dps, Context(leaf, _otherIntermediate, _otherRoot));

        Assert.Equal(5, await ConnectAsync(tls, dps, "chain-m3"));
    }

    public void Dispose()
    {
        _root.Dispose();
        _intermediate.Dispose();
        _otherRoot.Dispose();
        _otherIntermediate.Dispose();
    }

    private async Task<DpsEmulator> StartWithRootGroupAsync()
    {
        var dps = await TestDps.StartAsync();
        await dps.Enrollments.AddX509GroupAsync("fleet", X509CertificateLoader.LoadCertificate(_root.RawData), cancellationToken: TestContext.Current.CancellationToken);
        return dps;
    }

    /// <summary>The leaf and what the handshake sends with it (nothing is installed in any store).</summary>
    private static SslStreamCertificateContext Context(X509Certificate2 leaf, params X509Certificate2[] chain) =>
        SslStreamCertificateContext.Create(leaf, [.. chain.Select(c => X509CertificateLoader.LoadCertificate(c.RawData))], offline: true);

    /// <summary>CONNECT without a password (X.509); returns the CONNACK return code.</summary>
    private static async Task<int> ConnectAsync(SslStream tls, DpsEmulator dps, string registrationId)
    {
        await tls.WriteAsync(RawMqtt.Connect(registrationId, MqttTestDevice.UserName(dps.IdScope, registrationId), password: null), TestContext.Current.CancellationToken);
        var (type, body) = await RawMqtt.ReadAsync(tls);
        Assert.Equal(0x20, type);
        return body[1];
    }

    /// <summary>Publishes an empty request at QoS 1, reads its PUBACK and the answer, acknowledges the answer.</summary>
    private static async Task<(string Topic, JsonElement Body)> RequestAsync(SslStream tls, string topic, byte packetId)
    {
        await tls.WriteAsync(RawMqtt.Packet(0x32, [.. RawMqtt.Str(topic), 0, packetId]), TestContext.Current.CancellationToken);
        Assert.Equal(0x40, (await RawMqtt.ReadAsync(tls)).Type);
        var (type, body) = await RawMqtt.ReadAsync(tls);
        Assert.Equal(0x32, type);
        var topicLength = (body[0] << 8) | body[1];
        await tls.WriteAsync(RawMqtt.Packet(0x40, [body[2 + topicLength], body[3 + topicLength]]), TestContext.Current.CancellationToken);
        using var json = JsonDocument.Parse(body.AsMemory(4 + topicLength));
        return (Encoding.UTF8.GetString(body, 2, topicLength), json.RootElement.Clone());
    }
}

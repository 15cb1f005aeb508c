using System.Security.Cryptography;
using System.Text;
using Provisioning.Emulator.Hubs;

namespace Provisioning.Device.Hub.Tests;

public sealed class TelemetryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static HubMessage Message(string text)
    {
        var message = new HubMessage(Encoding.UTF8.GetBytes(text))
        {
            MessageId = "m-1",
            CorrelationId = "c/1 &x",
            ContentType = "application/json",
            ContentEncoding = "utf-8",
        };
        message.Properties["temperature alert"] = "true&high=1";
        message.Properties["$weird"] = "%24";
        return message;
    }

    private static void AssertArrived(HubTelemetryMessage received, string text)
    {
        Assert.Equal(text, Encoding.UTF8.GetString(received.Body.Span));
        Assert.Equal("m-1", received.MessageId);
        Assert.Equal("c/1 &x", received.CorrelationId);
        Assert.Equal("application/json", received.ContentType);
        Assert.Equal("utf-8", received.ContentEncoding);
        Assert.Equal("true&high=1", received.Properties["temperature alert"]);
        Assert.Equal("%24", received.Properties["$weird"]);
    }

    [Fact]
    public async Task SendEvent_WithSymmetricKey_ArrivesWithItsProperties()
    {
        await using var bed = await HubTestBed.StartAsync();
        var client = await bed.OpenSymmetricAsync("sym-1");

        await client.SendEventAsync(Message("{\"t\":21}"), Ct);

        AssertArrived(await bed.Hub.ReadTelemetryAsync("sym-1", Ct), "{\"t\":21}");
        Assert.Equal(ConnectionState.Connected, client.State);
    }

    [Fact]
    public async Task SendEvent_WithSignerDelegate_SignsEachTokenThroughTheSigner()
    {
        await using var bed = await HubTestBed.StartAsync();
        var key = await bed.RegisterKeyAsync("tpm-1", HubCredentialKind.Tpm);
        var signed = 0;
        using var authentication = HubAuthentication.FromSigner((data, _) =>
        {
            Interlocked.Increment(ref signed);
            return ValueTask.FromResult(HMACSHA256.HashData(key, data.Span));
        });
        var client = await bed.OpenAsync("tpm-1", authentication);

        await client.SendEventAsync(Message("tpm"), Ct);

        AssertArrived(await bed.Hub.ReadTelemetryAsync("tpm-1", Ct), "tpm");
        Assert.Equal(1, signed);
    }

    [Fact]
    public async Task SendEvent_WithX509Certificate_IsAcceptedByThumbprint()
    {
        await using var bed = await HubTestBed.StartAsync();
        var (context, certificate, thumbprint) = TestPki.IssueDevice("x509-1");
        using var _ = certificate;
        await bed.Registry.UpsertAsync(new HubDevice(HubTestBed.HubName, "x509-1", HubCredentialKind.X509, null, null, thumbprint, true, null), Ct);
        var client = await bed.OpenAsync("x509-1", HubAuthentication.FromCertificate(context));

        await client.SendEventAsync(Message("x509"), Ct);

        AssertArrived(await bed.Hub.ReadTelemetryAsync("x509-1", Ct), "x509");
    }

    [Fact]
    public async Task Open_WithAnotherDevicesCertificate_IsRefusedAndCallsTheReprovisioningHook()
    {
        await using var bed = await HubTestBed.StartAsync();
        var (_, registered, thumbprint) = TestPki.IssueDevice("x509-2");
        var (other, otherCertificate, _) = TestPki.IssueDevice("x509-2");
        using var a = registered;
        using var b = otherCertificate;
        await bed.Registry.UpsertAsync(new HubDevice(HubTestBed.HubName, "x509-2", HubCredentialKind.X509, null, null, thumbprint, true, null), Ct);
        var refused = new TaskCompletionSource<HubRefusal>();
        var client = bed.Create("x509-2", HubAuthentication.FromCertificate(other), o => o.ReprovisionRequired = (r, _) =>
        {
            refused.TrySetResult(r);
            return ValueTask.CompletedTask;
        });

        var error = await Assert.ThrowsAsync<HubException>(() => client.OpenAsync(Ct));

        Assert.Equal(5, error.Status);
        Assert.False(error.IsTransient);
        Assert.Equal(5, (await refused.Task.WaitAsync(Ct)).ConnectCode);
        Assert.Equal(ConnectionState.Refused, client.State);
    }

    [Fact]
    public async Task SendEvent_OverTheSizeLimit_ThrowsArgumentExceptionAndTheClientCarriesOn()
    {
        await using var bed = await HubTestBed.StartAsync();
        var client = await bed.OpenSymmetricAsync("big-1");

        await Assert.ThrowsAsync<ArgumentException>(() => client.SendEventAsync(new HubMessage(new byte[256 * 1024 + 1]), Ct));
        var reserved = new HubMessage(new byte[1]);
        reserved.Properties["$.mid"] = "x";
        await Assert.ThrowsAsync<ArgumentException>(() => client.SendEventAsync(reserved, Ct));
        await client.SendEventAsync(new HubMessage(new byte[256 * 1024]), Ct);

        Assert.Equal(256 * 1024, (await bed.Hub.ReadTelemetryAsync("big-1", Ct)).Body.Length);
    }

    [Fact]
    public async Task SendEvent_ManyConcurrently_AllArriveOnce()
    {
        await using var bed = await HubTestBed.StartAsync();
        var client = await bed.OpenSymmetricAsync("many-1");

        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => client.SendEventAsync(new HubMessage(new byte[10]) { MessageId = $"{i}" }, Ct)));

        var ids = bed.Hub.GetTelemetry("many-1").Select(m => m.MessageId).ToList();
        Assert.Equal(200, ids.Count);
        Assert.Equal(200, ids.Distinct().Count());
    }

    [Fact]
    public async Task SendEvent_OverWebSockets_ArrivesWithItsProperties()
    {
        await using var bed = await HubTestBed.StartAsync();
        var webSocket = await bed.StartWebSocketAsync();
        var key = await bed.RegisterKeyAsync("ws-1");
        var client = await bed.OpenAsync("ws-1", HubAuthentication.FromSymmetricKey(key), o =>
        {
            o.Transport = HubTransport.MqttWebSocket;
            o.HubAddresses[HubTestBed.HubName] = webSocket.Address;
        });

        await client.SendEventAsync(Message("ws"), Ct);

        AssertArrived(await bed.Hub.ReadTelemetryAsync("ws-1", Ct), "ws");
    }

    [Fact]
    public async Task SendEvent_OverWebSocketsThroughAProxy_TunnelsToTheHubOnPort443()
    {
        await using var bed = await HubTestBed.StartAsync();
        var webSocket = await bed.StartWebSocketAsync();
        await using var proxy = new ConnectProxy(System.Net.IPEndPoint.Parse(webSocket.Address));
        var key = await bed.RegisterKeyAsync("ws-proxy-1");
        var client = await bed.OpenAsync("ws-proxy-1", HubAuthentication.FromSymmetricKey(key), o =>
        {
            o.Transport = HubTransport.MqttWebSocket;
            o.HubAddresses.Clear();
            o.Proxy = new System.Net.WebProxy(proxy.Address);
        });

        await client.SendEventAsync(Message("via proxy"), Ct);

        AssertArrived(await bed.Hub.ReadTelemetryAsync("ws-proxy-1", Ct), "via proxy");
        Assert.Contains($"CONNECT {HubTestBed.HubName}:443 HTTP/1.1", proxy.Requests);
    }

    [Theory]
    [InlineData("not from the trusted root")]
    [InlineData("from the trusted root but not for server authentication")]
    public async Task Open_WhenTheServerCertificateIsNotTrusted_FailsTlsAndKeepsRetrying(string @case)
    {
        var wrongUsage = @case.Contains("server authentication", StringComparison.Ordinal);
        await using var bed = await HubTestBed.StartAsync(serverAuthCertificate: !wrongUsage);
        var key = await bed.RegisterKeyAsync("tls-1");
        using var otherPki = new TestPki();
        var states = System.Threading.Channels.Channel.CreateUnbounded<ConnectionStateChangedEventArgs>();
        var client = bed.Create("tls-1", HubAuthentication.FromSymmetricKey(key), o =>
        {
            if (!wrongUsage)
            {
                o.TrustedRootCertificates.Clear();
                o.TrustedRootCertificates.Add(otherPki.Root);
            }
        });
        client.ConnectionStateChanged += (_, e) => states.Writer.TryWrite(e);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);

        var open = client.OpenAsync(timeout.Token);
        ConnectionStateChangedEventArgs change;
        do
        {
            change = await states.Reader.ReadAsync(Ct);
        }
        while (change.State != ConnectionState.Disconnected);
        await timeout.CancelAsync();

        var chain = new List<Exception>();
        for (var e = change.Exception; e is not null; e = e.InnerException)
        {
            chain.Add(e);
        }

        Assert.Contains(chain, e => e is System.Security.Authentication.AuthenticationException);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => open);
        Assert.Equal(0, bed.Hub.GetConnectionCount("tls-1"));
    }
}

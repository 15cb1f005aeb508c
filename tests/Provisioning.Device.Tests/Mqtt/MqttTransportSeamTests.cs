using System.Net;

using MQTTnet.Exceptions;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>
/// The DPS-over-MQTT logic over the in-memory connection seam: request id matching, answers that overtake their
/// PUBACK, lost connections, refused subscriptions, oversized bodies and a failed goodbye.
/// </summary>
public sealed class MqttTransportSeamTests
{
    private const string Res = "$dps/registrations/res/";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Register_WhenTheAnswerArrivesBeforeThePubAck_IsStillMatched()
    {
        var connection = new FakeDpsMqttConnection { OnPublish = (c, topic, _) => c.Deliver(Res + "200/?$rid=1", Dps.Assigned()) };
        using ProvisioningDeviceClient client = Create(connection);

        DeviceRegistrationResult result = await client.RegisterAsync(Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(
            ["CONNECT device-01", "SUBSCRIBE $dps/registrations/res/#", "PUBLISH $dps/registrations/PUT/iotdps-register/?$rid=1", "DISCONNECT", "DISPOSE"],
            connection.Calls);
    }

    [Fact]
    public async Task Register_WhenAnAnswerCarriesAnotherRequestId_IgnoresItAndWaitsForItsOwn()
    {
        var connection = new FakeDpsMqttConnection
        {
            OnPublish = (c, _, _) =>
            {
                c.Deliver(Res + "200/?$rid=99", Dps.Error(500000, "not yours"));
                c.Deliver(Res + "200/?$rid=1", Dps.Assigned());
            },
        };
        using ProvisioningDeviceClient client = Create(connection);

        DeviceRegistrationResult result = await client.RegisterAsync(Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
    }

    [Fact]
    public async Task Register_WhenTheConnectionDropsWhileWaiting_RetriesOnANewConnectionAndSubscription()
    {
        int publishes = 0;
        var connection = new FakeDpsMqttConnection
        {
            OnPublish = (c, _, _) =>
            {
                if (++publishes == 1)
                {
                    c.Lose(new MqttCommunicationException("reset by peer"));
                }
                else
                {
                    c.Deliver(Res + "200/?$rid=2", Dps.Assigned());
                }
            },
        };
        var time = new SteppingTimeProvider();
        using ProvisioningDeviceClient client = Create(connection, time);

        DeviceRegistrationResult result = await time.RunAsync(client.RegisterAsync(Ct));

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(
            [
                "CONNECT device-01", "SUBSCRIBE $dps/registrations/res/#", "PUBLISH $dps/registrations/PUT/iotdps-register/?$rid=1",
                "CONNECT device-01", "SUBSCRIBE $dps/registrations/res/#", "PUBLISH $dps/registrations/PUT/iotdps-register/?$rid=2",
                "DISCONNECT", "DISPOSE",
            ],
            connection.Calls);
        Assert.Single(time.Waits);
    }

    [Fact]
    public async Task Register_WhenTheConnectionDropsPastTheRetries_FailsTransientSayingSo()
    {
        var connection = new FakeDpsMqttConnection { OnPublish = (c, _, _) => c.Lose(new MqttCommunicationException("reset by peer")) };
        ProvisioningClientOptions options = Options();
        options.RetryPolicy.MaxRetries = 0;
        using ProvisioningDeviceClient client = new("dps.test", Dps.IdScope, TestClients.SymmetricKey(), options, handler: null, () => connection);

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.True(ex.IsTransient);
        Assert.Contains("closed while waiting for the answer to the registration (reset by peer)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_WhenTheSubscriptionIsRefused_FailsNonTransientAndDisconnects()
    {
        var connection = new FakeDpsMqttConnection { GrantSubscription = false };
        using ProvisioningDeviceClient client = Create(connection);

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("refused the subscription", ex.Message, StringComparison.Ordinal);
        Assert.Equal(["CONNECT device-01", "SUBSCRIBE $dps/registrations/res/#", "DISCONNECT", "DISPOSE"], connection.Calls);
    }

    [Fact]
    public async Task Register_WhenTheAnswerBodyIsOver96KB_FailsNonTransient()
    {
        var connection = new FakeDpsMqttConnection { OnPublish = (c, _, _) => c.Deliver(Res + "200/?$rid=1", new byte[(96 * 1024) + 1]) };
        using ProvisioningDeviceClient client = Create(connection);

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(Ct));

        Assert.False(ex.IsTransient);
        Assert.Contains("over the 96 KB limit", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Register_WhenDisconnectFails_StillReturnsTheResultAndLogsIt()
    {
        var connection = new FakeDpsMqttConnection
        {
            OnPublish = (c, _, _) => c.Deliver(Res + "200/?$rid=1", Dps.Assigned()),
            DisconnectFailure = new ProvisioningException("socket already closed"),
        };
        var logs = new CapturingLoggerFactory();
        ProvisioningClientOptions options = Options();
        options.LoggerFactory = logs;
        using ProvisioningDeviceClient client = new("dps.test", Dps.IdScope, TestClients.SymmetricKey(), options, handler: null, () => connection);

        DeviceRegistrationResult result = await client.RegisterAsync(Ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Contains(logs.Lines, m => m.Contains("could not be closed cleanly: socket already closed", StringComparison.Ordinal));
        Assert.Equal("DISPOSE", connection.Calls[^1]);
    }

    [Fact]
    public async Task Register_WhenTheSasIsRefusedAndRetried_KeepsTheSignatureOutOfLogsAndErrors()
    {
        var connection = new FakeDpsMqttConnection();
        connection.ConnectCodes.Enqueue(3);
        connection.ConnectCodes.Enqueue(4);
        var logs = new CapturingLoggerFactory();
        var time = new SteppingTimeProvider();
        ProvisioningClientOptions options = Options(time);
        options.LoggerFactory = logs;
        using ProvisioningDeviceClient client = new("dps.test", Dps.IdScope, TestClients.SymmetricKey(), options, handler: null, () => connection);

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => time.RunAsync(client.RegisterAsync(Ct)));

        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.Equal(2, connection.Credentials.Count);
        string signature = connection.Credentials[0].Password!.Split("sig=")[1].Split('&')[0];
        Assert.NotEmpty(signature);
        Assert.DoesNotContain(signature, ex.ToString(), StringComparison.Ordinal);
        Assert.All(logs.Lines, line => Assert.DoesNotContain(signature, line, StringComparison.Ordinal));
        Assert.Contains(logs.Lines, line => line.Contains("CONNACK return code 3", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Register_Twice_UsesOneConnectionPerRegistration()
    {
        var connections = new List<FakeDpsMqttConnection>();
        ProvisioningClientOptions options = Options();
        using ProvisioningDeviceClient client = new("dps.test", Dps.IdScope, TestClients.SymmetricKey(), options, handler: null, () =>
        {
            var connection = new FakeDpsMqttConnection { OnPublish = (c, _, _) => c.Deliver(Res + "200/?$rid=1", Dps.Assigned()) };
            connections.Add(connection);
            return connection;
        });

        await client.RegisterAsync(Ct);
        await client.RegisterAsync(Ct);

        Assert.Equal(2, connections.Count);
        Assert.All(connections, c => Assert.Equal(["DISCONNECT", "DISPOSE"], c.Calls[^2..]));
    }

    private static ProvisioningClientOptions Options(TimeProvider? time = null)
    {
        ProvisioningClientOptions options = TestClients.Options(time);
        options.Transport = ProvisioningTransport.Mqtt;
        return options;
    }

    private static ProvisioningDeviceClient Create(FakeDpsMqttConnection connection, TimeProvider? time = null) =>
        new("dps.test", Dps.IdScope, TestClients.SymmetricKey(), Options(time), handler: null, () => connection);
}

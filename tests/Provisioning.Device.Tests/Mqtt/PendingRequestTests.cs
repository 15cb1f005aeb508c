using System.Net;

using Provisioning.Device.Transport.Mqtt;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>
/// The payload of a DPS answer over MQTT can hold <c>registrationState.tpm.authenticationKey</c>: it is zeroed on every
/// way a request ends, including a timeout that wins the race against an answer that already arrived.
/// </summary>
public sealed class PendingRequestTests
{
    private static readonly DpsMqttResponse Answer = new(HttpStatusCode.OK, "1", null);

    [Fact]
    public void Close_AfterAnAnswerArrivedButWasNeverRead_ZeroesItsPayload()
    {
        var pending = new MqttProvisioningTransport.PendingRequest("1", "the registration");
        byte[] payload = [1, 2, 3, 4];
        pending.Complete(Answer, payload);

        pending.Close();

        Assert.All(payload, b => Assert.Equal(0, b));
    }

    [Fact]
    public void Complete_AfterTheRequestClosed_ZeroesThePayloadAndLeavesTheTaskPending()
    {
        var pending = new MqttProvisioningTransport.PendingRequest("1", "the registration");
        pending.Close();
        byte[] payload = [1, 2, 3, 4];

        pending.Complete(Answer, payload);

        Assert.All(payload, b => Assert.Equal(0, b));
        Assert.False(pending.Task.IsCompleted);
    }

    [Fact]
    public void Complete_WhenAnswerIsDelivered_KeepsThePayloadReadableUntilClose()
    {
        var pending = new MqttProvisioningTransport.PendingRequest("1", "the registration");
        byte[] payload = [1, 2, 3, 4];

        pending.Complete(Answer, payload);

        Assert.True(pending.Task.IsCompletedSuccessfully);
        Assert.Equal([1, 2, 3, 4], payload);
    }
}

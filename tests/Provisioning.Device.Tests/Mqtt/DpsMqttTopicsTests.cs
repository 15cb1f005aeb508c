using System.Net;

using Provisioning.Device.Transport.Mqtt;

namespace Provisioning.Device.Tests.Mqtt;

/// <summary>The DPS MQTT topics of dps-protocol.md §5, built and read strictly.</summary>
public sealed class DpsMqttTopicsTests
{
    [Fact]
    public void Register_IsThePutTopicWithTheRequestId() =>
        Assert.Equal("$dps/registrations/PUT/iotdps-register/?$rid=7", DpsMqttTopics.Register("7"));

    [Fact]
    public void OperationStatus_IsTheGetTopicWithTheRequestIdAndEscapedOperationId() =>
        Assert.Equal(
            "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=8&operationId=4.d0a6%26x%2By",
            DpsMqttTopics.OperationStatus("8", "4.d0a6&x+y"));

    [Theory]
    [InlineData("assigned", "$dps/registrations/res/200/?$rid=1", 200, "1", null)]
    [InlineData("assigning with retry-after", "$dps/registrations/res/202/?$rid=12&retry-after=3", 202, "12", 3)]
    [InlineData("retry-after first", "$dps/registrations/res/429/?retry-after=10&$rid=a-b", 429, "a-b", 10)]
    [InlineData("Retry-After capitalised (C# SDK reads any case)", "$dps/registrations/res/503/?$rid=2&Retry-After=0", 503, "2", 0)]
    [InlineData("unknown parameter ignored", "$dps/registrations/res/401/?$rid=3&x-extra=1", 401, "3", null)]
    public void ParseResponse_ReadsStatusRequestIdAndRetryAfter(string name, string topic, int status, string requestId, int? retryAfter)
    {
        _ = name;
        DpsMqttResponse response = DpsMqttTopics.ParseResponse(topic, "the registration");

        Assert.Equal((HttpStatusCode)status, response.Status);
        Assert.Equal(requestId, response.RequestId);
        Assert.Equal(retryAfter is { } s ? TimeSpan.FromSeconds(s) : null, response.RetryAfter);
    }

    [Theory]
    [InlineData("wrong prefix", "$dps/registrations/req/200/?$rid=1")]
    [InlineData("no query", "$dps/registrations/res/200")]
    [InlineData("query without slash", "$dps/registrations/res/200?$rid=1")]
    [InlineData("two-digit status", "$dps/registrations/res/20/?$rid=1")]
    [InlineData("four-digit status", "$dps/registrations/res/2000/?$rid=1")]
    [InlineData("status 099", "$dps/registrations/res/099/?$rid=1")]
    [InlineData("status 600", "$dps/registrations/res/600/?$rid=1")]
    [InlineData("status with a sign", "$dps/registrations/res/+20/?$rid=1")]
    [InlineData("no $rid", "$dps/registrations/res/200/?retry-after=1")]
    [InlineData("empty $rid", "$dps/registrations/res/200/?$rid=")]
    [InlineData("repeated $rid", "$dps/registrations/res/200/?$rid=1&$rid=2")]
    [InlineData("parameter without =", "$dps/registrations/res/200/?$rid=1&flag")]
    [InlineData("empty query", "$dps/registrations/res/200/?")]
    [InlineData("retry-after negative", "$dps/registrations/res/202/?$rid=1&retry-after=-1")]
    [InlineData("retry-after fractional", "$dps/registrations/res/202/?$rid=1&retry-after=1.5")]
    [InlineData("retry-after an HTTP date", "$dps/registrations/res/202/?$rid=1&retry-after=Fri, 27 Nov 2026 00:00:00 GMT")]
    [InlineData("retry-after huge", "$dps/registrations/res/202/?$rid=1&retry-after=99999999999")]
    [InlineData("retry-after repeated", "$dps/registrations/res/202/?$rid=1&retry-after=1&retry-after=2")]
    public void ParseResponse_WhenMalformed_ThrowsNonTransientNamingTheTopic(string name, string topic)
    {
        _ = name;
        ProvisioningException ex = Assert.Throws<ProvisioningException>(() => DpsMqttTopics.ParseResponse(topic, "the status poll"));

        Assert.False(ex.IsTransient);
        Assert.StartsWith("The provisioning service sent a malformed response to the status poll: the response topic '", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ParseResponse_CapsAVeryLongRetryAfterAtOneDay() =>
        Assert.Equal(TimeSpan.FromDays(1), DpsMqttTopics.ParseResponse("$dps/registrations/res/202/?$rid=1&retry-after=999999999", "x").RetryAfter);
}

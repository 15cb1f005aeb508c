using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests;

public sealed class OptionsTests
{
    public static TheoryData<string, Action<ProvisioningClientOptions>> BadOptions => new()
    {
        { "zero request timeout", o => o.RequestTimeout = TimeSpan.Zero },
        { "negative registration timeout", o => o.RegistrationTimeout = TimeSpan.FromSeconds(-2) },
        { "negative retries", o => o.RetryPolicy.MaxRetries = -1 },
        { "negative initial delay", o => o.RetryPolicy.InitialDelay = TimeSpan.FromSeconds(-1) },
        { "max Retry-After over a day", o => o.RetryPolicy.MaxRetryAfter = TimeSpan.FromDays(2) },
        { "zero SAS lifetime", o => o.SasTokenTimeToLive = TimeSpan.Zero },
        { "no time provider", o => o.TimeProvider = null! },
    };

    [Theory]
    [MemberData(nameof(BadOptions))]
    public void Client_WithInvalidOptions_ThrowsArgumentException(string @case, Action<ProvisioningClientOptions> spoil)
    {
        Assert.NotNull(@case);
        var options = new ProvisioningClientOptions();
        spoil(options);
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();

        Assert.ThrowsAny<ArgumentException>(() => new ProvisioningDeviceClient("dps.example.net", Dps.IdScope, attestation, options));
    }

    [Fact]
    public void Client_WithInfiniteTimeouts_IsValid()
    {
        var options = new ProvisioningClientOptions { RequestTimeout = Timeout.InfiniteTimeSpan, RegistrationTimeout = Timeout.InfiniteTimeSpan };
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();

        using var client = new ProvisioningDeviceClient("dps.example.net", Dps.IdScope, attestation, options);

        Assert.Equal(Dps.IdScope, client.IdScope);
    }
}

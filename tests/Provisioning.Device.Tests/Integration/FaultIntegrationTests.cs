using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Faults;

namespace Provisioning.Device.Tests.Integration;

/// <summary>
/// Every fault the emulator injects, on the registration and on the status poll: the client retries the same request
/// (a failed poll never starts a second registration) and ends assigned after exactly the faulted requests plus the
/// two it needs anyway.
/// </summary>
public sealed class FaultIntegrationTests
{
    public static TheoryData<FaultKind> Kinds => [FaultKind.TooManyRequests, FaultKind.InternalServerError, FaultKind.ServiceUnavailable, FaultKind.DropConnection, FaultKind.Delay];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Register_WhenTheServiceInjectsFaults_RetriesAndEndsAssignedWithBoundedRequests(FaultKind kind)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        // A held request costs the client its whole request timeout; one per endpoint is enough to prove the retry.
        int faultsPerEndpoint = kind == FaultKind.Delay ? 1 : 2;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("faulted-device", cancellationToken: ct);
        foreach (DpsEndpoint endpoint in new[] { DpsEndpoint.Register, DpsEndpoint.OperationStatus })
        {
            session.Dps.Faults.Add(new FaultRule
            {
                Endpoint = endpoint,
                Kind = kind,
                MaxFaults = faultsPerEndpoint,
                RetryAfter = TimeSpan.Zero,
                // Longer than the client's request timeout below: a held request times out and is retried.
                Delay = TimeSpan.FromSeconds(30),
            });
        }

        ProvisioningClientOptions options = session.CreateOptions();
        // Long enough that an unfaulted request never times out on a loaded machine, short enough for a fast test.
        options.RequestTimeout = TimeSpan.FromSeconds(kind == FaultKind.Delay ? 1 : 10);
        using var attestation = new SymmetricKeyAttestation("faulted-device", keys.PrimaryKey);
        using var client = session.CreateClient(attestation, out RequestCounter counter, options);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(1 + faultsPerEndpoint, counter.Puts);
        Assert.Equal(1 + faultsPerEndpoint, counter.Gets);
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
    }

    [Fact]
    public async Task Register_WhenTheServiceHoldsTheRequestPastTheDeadline_ThrowsTransientTimeoutNotCancellation()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("slow-service-device", cancellationToken: ct);
        session.Dps.Faults.Add(new FaultRule { Endpoint = DpsEndpoint.OperationStatus, Kind = FaultKind.Delay, Delay = TimeSpan.FromMinutes(5) });
        ProvisioningClientOptions options = session.CreateOptions();
        // Ample for the PUT even on a loaded machine; the held poll then meets the deadline.
        options.RegistrationTimeout = TimeSpan.FromSeconds(2);
        using var attestation = new SymmetricKeyAttestation("slow-service-device", keys.PrimaryKey);
        using var client = session.CreateClient(attestation, out RequestCounter counter, options);

        var ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: ct));

        Assert.True(ex.IsTransient);
        Assert.Contains("Polling", ex.Message, StringComparison.Ordinal);
        Assert.Equal(1, counter.Puts);
    }

    [Fact]
    public async Task Register_WhenFaultsOutlastTheRetries_ThrowsTransientWithTheLastStatus()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("always-throttled", cancellationToken: ct);
        session.Dps.Faults.Add(new FaultRule { Endpoint = DpsEndpoint.Register, Kind = FaultKind.TooManyRequests, RetryAfter = TimeSpan.Zero });
        ProvisioningClientOptions options = session.CreateOptions();
        options.RetryPolicy.MaxRetries = 3;
        using var attestation = new SymmetricKeyAttestation("always-throttled", keys.PrimaryKey);
        using var client = session.CreateClient(attestation, out RequestCounter counter, options);

        var ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: ct));

        Assert.True(ex.IsTransient);
        Assert.Equal(System.Net.HttpStatusCode.TooManyRequests, ex.StatusCode);
        Assert.Equal(429001, ex.ErrorCode);
        Assert.Equal(4, counter.Puts);
        Assert.Equal(0, counter.Gets);
    }
}

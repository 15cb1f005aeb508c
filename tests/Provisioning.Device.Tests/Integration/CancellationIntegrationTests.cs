using Provisioning.Emulator.Enrollments;
using Provisioning.Emulator.Faults;

namespace Provisioning.Device.Tests.Integration;

/// <summary>Cancellation while a request is on the wire: the caller's cancellation surfaces as such, not as a provisioning error.</summary>
public sealed class CancellationIntegrationTests
{
    [Theory]
    [InlineData("PUT")]
    [InlineData("GET")]
    public async Task Register_CanceledWhileARequestIsHeldByTheService_ThrowsOperationCanceled(string method)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("canceled-device", cancellationToken: ct);
        session.Dps.Faults.Add(new FaultRule
        {
            Endpoint = method == "PUT" ? DpsEndpoint.Register : DpsEndpoint.OperationStatus,
            Kind = FaultKind.Delay,
            Delay = TimeSpan.FromMinutes(5),
        });
        using var attestation = new SymmetricKeyAttestation("canceled-device", keys.PrimaryKey);
        using var client = session.CreateClient(attestation, out RequestCounter counter);
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(ct);
        // Cancel once the held request is on its way; the service keeps it for minutes, so only cancellation ends it.
        counter.OnSending = request =>
        {
            if (request.Method.Method == method)
            {
                cancellation.CancelAfter(TimeSpan.FromMilliseconds(100));
            }
        };

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.RegisterAsync(cancellationToken: cancellation.Token));

        Assert.Equal(1, method == "PUT" ? counter.Puts : counter.Gets);
        Assert.False(ct.IsCancellationRequested);
    }
}

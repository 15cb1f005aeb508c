using System.Net;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests;

/// <summary>Cancellation is honoured in every state, TPM calls included, and nothing is sent after it.</summary>
public sealed class CancellationTests
{
    private static ScriptedHttpHandler TpmScript(TaskCompletionSource? hangOnPut = null)
    {
        var handler = new ScriptedHttpHandler();
        if (hangOnPut is not null)
        {
            return handler.ThenHang(hangOnPut);
        }

        return handler
            .ThenRespond(HttpStatusCode.Unauthorized, Dps.Challenge("AQID"))
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned("x", "BAUG"));
    }

    [Theory]
    [InlineData("attesting", "GetRegistrationId", 0)]
    [InlineData("attesting (reading the EK)", "GetEndorsementKey", 0)]
    [InlineData("challenged (activating the challenge)", "Activate", 1)]
    [InlineData("activated (signing the SAS)", "Sign", 1)]
    public async Task Register_CancelledWhileTheTpmWorks_ThrowsOperationCanceled(string state, string hangIn, int requestsBefore)
    {
        Assert.NotNull(state);
        var tpm = new FakeTpmDevice { HangIn = hangIn };
        ScriptedHttpHandler handler = TpmScript();
        using ProvisioningDeviceClient client = TestClients.Create(handler, new TpmAttestation(tpm));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);

        Task<DeviceRegistrationResult> registration = client.RegisterAsync(cancellationToken: cts.Token);
        await tpm.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => registration);
        Assert.Equal(requestsBefore, handler.Requests.Count);
    }

    [Fact]
    public async Task Register_CancelledWhileActivatingTheAssignedKey_ThrowsOperationCanceled()
    {
        // The first activation (the challenge) completes; the second (the assigned key) hangs.
        var tpm = new FakeTpmDevice { HangIn = "Activate", HangAfter = 1 };
        ScriptedHttpHandler handler = TpmScript();
        using ProvisioningDeviceClient client = TestClients.Create(handler, new TpmAttestation(tpm));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);

        Task<DeviceRegistrationResult> registration = client.RegisterAsync(cancellationToken: cts.Token);
        await tpm.Entered.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => registration);
        Assert.Single(tpm.ActivatedBlobs);
        Assert.Equal(2, handler.Requests.Count);
    }

    [Fact]
    public async Task Register_CancelledWhileRegistering_ThrowsOperationCanceled()
    {
        var entered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handler = new ScriptedHttpHandler().ThenHang(entered);
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);

        Task<DeviceRegistrationResult> registration = client.RegisterAsync(cancellationToken: cts.Token);
        await entered.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await cts.CancelAsync();

        OperationCanceledException ex = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => registration);
        Assert.Equal(cts.Token, ex.CancellationToken);
    }

    [Theory]
    [InlineData("polling (waiting for Retry-After)", HttpStatusCode.Accepted, "60")]
    [InlineData("retrying (waiting for backoff)", HttpStatusCode.ServiceUnavailable, null)]
    public async Task Register_CancelledWhileWaiting_ThrowsOperationCanceledAndSendsNothingMore(string state, HttpStatusCode status, string? retryAfter)
    {
        Assert.NotNull(state);
        var time = new SteppingTimeProvider();
        var handler = new ScriptedHttpHandler { Clock = time }.ThenRespond(status, status == HttpStatusCode.Accepted ? Dps.Assigning() : null, retryAfter);
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation);
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);

        Task<DeviceRegistrationResult> registration = client.RegisterAsync(cancellationToken: cts.Token);
        await time.NextTimerAsync();
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => registration);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Register_WithAnAlreadyCancelledToken_SendsNothing()
    {
        var handler = new ScriptedHttpHandler();
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.RegisterAsync(cancellationToken: new CancellationToken(canceled: true)));
        Assert.Empty(handler.Requests);
    }
}

using System.Diagnostics;
using System.Net;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests;

public sealed class LoggingAndTelemetryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Register_LogsOneEventPerStateAndNoSecret()
    {
        var logs = new CapturingLoggerFactory();
        var tpm = new FakeTpmDevice();
        byte[] challenge = [.. Enumerable.Range(0, 64).Select(i => (byte)(i * 3))];
        byte[] assigned = [.. Enumerable.Range(0, 64).Select(i => (byte)(i * 5))];
        var handler = new ScriptedHttpHandler()
            .ThenRespond(HttpStatusCode.Unauthorized, Dps.Challenge(Convert.ToBase64String(challenge)))
            .ThenRespond(HttpStatusCode.ServiceUnavailable, Dps.Error(503000), retryAfter: "0")
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning(), retryAfter: "0")
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned(tpm.RegistrationId, Convert.ToBase64String(assigned)));
        ProvisioningClientOptions options = TestClients.Options();
        options.LoggerFactory = logs;
        using ProvisioningDeviceClient client = TestClients.Create(handler, new TpmAttestation(tpm), options);

        await client.RegisterAsync(cancellationToken: Ct);

        string[] states = [.. logs.Events.Where(e => e.EventId is 1 or 2).Select(e => e.Values["State"]?.ToString() ?? "?")];
        Assert.Equal(["Attesting", "Registering", "Challenged", "Activated", "Registering", "Polling", "Assigned"], states);
        Assert.Single(logs.Lines, l => l.Contains("retry 1", StringComparison.Ordinal));

        string sasSignature = handler.Requests[1].Authorization!.Split("sig=")[1].Split('&')[0];
        string[] secrets =
        [
            Convert.ToBase64String(challenge), Convert.ToBase64String(assigned), sasSignature, Uri.UnescapeDataString(sasSignature),
            Convert.ToBase64String(FakeTpmDevice.KeyFor(challenge)), Convert.ToBase64String(tpm.EndorsementKey),
        ];
        foreach (string line in logs.Lines)
        {
            foreach (string secret in secrets)
            {
                Assert.DoesNotContain(secret, line, StringComparison.Ordinal);
            }

            Assert.DoesNotContain("SharedAccessSignature", line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Register_WhenItFails_NeitherLogsNorExceptionCarryTheKeyOrSas()
    {
        var logs = new CapturingLoggerFactory();
        var handler = new ScriptedHttpHandler()
            .ThenRespond(HttpStatusCode.InternalServerError, "oops", retryAfter: "0")
            .ThenRespond(HttpStatusCode.Unauthorized, Dps.Error(401002, "Invalid SAS."));
        ProvisioningClientOptions options = TestClients.Options();
        options.LoggerFactory = logs;
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation, options);

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: Ct));

        string sasSignature = handler.Requests[0].Authorization!.Split("sig=")[1].Split('&')[0];
        string everything = string.Join("\n", logs.Lines) + "\n" + ex;
        Assert.DoesNotContain(Dps.Key, everything, StringComparison.Ordinal);
        Assert.DoesNotContain(sasSignature, everything, StringComparison.Ordinal);
        Assert.DoesNotContain(Uri.UnescapeDataString(sasSignature), everything, StringComparison.Ordinal);
        Assert.Contains(logs.Lines, l => l.StartsWith("Warning", StringComparison.Ordinal) && l.Contains("Invalid SAS.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Register_RecordsOneSpanTaggedWithOutcomeAttemptsAndDuration()
    {
        var spans = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Provisioning.Device",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                lock (spans)
                {
                    spans.Add(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        var handler = new ScriptedHttpHandler()
            .ThenRespond(HttpStatusCode.TooManyRequests, retryAfter: "0")
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning("op-span"), retryAfter: "0")
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned("span-device", operationId: "op-span"));
        using var attestation = new SymmetricKeyAttestation("span-device", Dps.Key);
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation);

        await client.RegisterAsync(cancellationToken: Ct);

        Activity span;
        lock (spans)
        {
            span = Assert.Single(spans, s => (string?)s.GetTagItem("provisioning.registration_id") == "span-device");
        }

        Assert.Equal("Provisioning.Register", span.OperationName);
        Assert.Equal("assigned", span.GetTagItem("provisioning.outcome"));
        Assert.Equal(3, span.GetTagItem("provisioning.attempts"));
        Assert.IsType<double>(span.GetTagItem("provisioning.duration_ms"));
    }
}

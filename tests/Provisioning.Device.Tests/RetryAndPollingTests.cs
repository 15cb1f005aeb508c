using System.Globalization;
using System.Net;

using Provisioning.Device.Tests.Fakes;

namespace Provisioning.Device.Tests;

public sealed class RetryAndPollingTests
{
    private static TimeSpan S(double seconds) => TimeSpan.FromSeconds(seconds);

    private static TimeSpan[] Offsets(SteppingTimeProvider time, ScriptedHttpHandler handler) =>
        [.. handler.Requests.Select(r => r.At!.Value - time.Start)];

    private static async Task<DeviceRegistrationResult> RunAsync(SteppingTimeProvider time, ScriptedHttpHandler handler, ProvisioningClientOptions? options = null)
    {
        using SymmetricKeyAttestation attestation = TestClients.SymmetricKey();
        using ProvisioningDeviceClient client = TestClients.Create(handler, attestation, options ?? TestClients.Options(time));
        return await time.RunAsync(client.RegisterAsync(cancellationToken: TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Register_HonoursRetryAfterOnEveryResponse_InSecondsAndAsAnHttpDate()
    {
        var time = new SteppingTimeProvider();
        // The date is read when the 3rd response arrives, at +4 s: +11 s is 7 s later.
        string date = (time.Start + S(11)).ToString("R", CultureInfo.InvariantCulture);
        var handler = new ScriptedHttpHandler { Clock = time }
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning(), retryAfter: "3")
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning(), retryAfter: "1")
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning(), retryAfter: date)
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned());

        DeviceRegistrationResult result = await RunAsync(time, handler);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal([S(0), S(3), S(4), S(11)], Offsets(time, handler));
        Assert.Equal([S(3), S(1), S(7)], time.Waits);
    }

    [Fact]
    public async Task Register_WhenRetryAfterIsZero_PollsAtOnce()
    {
        var time = new SteppingTimeProvider();
        var handler = new ScriptedHttpHandler { Clock = time }
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning(), retryAfter: "0")
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning(), retryAfter: "0")
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned());

        await RunAsync(time, handler);

        // The first poll goes at once; the second of the same operation waits the pacing floor, 100 ms × (0.5 + 0.5 × jitter 0.5).
        Assert.Equal([S(0), S(0), S(0.075)], Offsets(time, handler));
        Assert.Equal([S(0.075)], time.Waits);
    }

    [Fact]
    public async Task Register_WhenAssignedOnTheFirstPollAfterRetryAfterZero_NeverWaits()
    {
        var time = new SteppingTimeProvider();
        var handler = new ScriptedHttpHandler { Clock = time }
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning(), retryAfter: "0")
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned());

        DeviceRegistrationResult result = await RunAsync(time, handler);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Empty(time.Waits);
        Assert.Equal([S(0), S(0)], Offsets(time, handler));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(0.999)]
    public async Task Register_WhenTheServiceSaysAssigningWithRetryAfterZeroForever_PollsAtMost60TimesAMinute(double jitter)
    {
        var time = new SteppingTimeProvider();
        // 300 answers of "assigning, Retry-After: 0" span well over a minute of paced polls; only then "assigned".
        var handler = new ScriptedHttpHandler { Clock = time };
        for (int i = 0; i < 300; i++)
        {
            handler.ThenRespond(HttpStatusCode.Accepted, Dps.Assigning(), retryAfter: "0");
        }

        handler.ThenRespond(HttpStatusCode.OK, Dps.Assigned());

        await RunAsync(time, handler, TestClients.Options(time, jitter));

        Assert.True(handler.Requests[^1].At!.Value - time.Start > S(60), "the script ended within the minute");
        int inAMinute = handler.Requests.Count(r => r.At!.Value - time.Start < S(60));
        Assert.InRange(inAMinute, 10, 60);
        // The floor grows, with jitter, and never drops: each wait is at least half the last one's ceiling.
        TimeSpan[] gaps = [.. Offsets(time, handler).Zip(Offsets(time, handler).Skip(1), (a, b) => b - a)];
        Assert.Equal(S(0), gaps[0]);
        Assert.All(gaps.Skip(1), g => Assert.True(g >= TimeSpan.FromMilliseconds(50), $"a poll came {g} after the last"));
        Assert.True(gaps[^1] >= S(2), $"the floor stopped growing at {gaps[^1]}");
    }

    [Fact]
    public async Task Register_When429StormSaysRetryAfterZero_StillBacksOffWithJitter()
    {
        var time = new SteppingTimeProvider();
        var handler = new ScriptedHttpHandler { Clock = time };
        for (int i = 0; i < 4; i++)
        {
            handler.ThenRespond(HttpStatusCode.TooManyRequests, Dps.Error(429001, "Throttled."), retryAfter: "0");
        }

        handler.ThenRespond(HttpStatusCode.OK, Dps.Assigned());

        await RunAsync(time, handler);

        // Equal jitter 0.5 of ceilings 0.5 s, 1 s, 2 s, 4 s: the server's 0 is never shorter than the backoff.
        Assert.Equal([S(0.375), S(0.75), S(1.5), S(3)], time.Waits);
    }

    [Fact]
    public async Task Register_WithoutRetryAfter_PollsAfterTheShortDefaultWithJitter()
    {
        var time = new SteppingTimeProvider();
        var handler = new ScriptedHttpHandler { Clock = time }
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning())
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning())
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned());

        await RunAsync(time, handler);

        // 500 ms × (1 + jitter 0.5): no 2-second floor.
        Assert.Equal([S(0.75), S(0.75)], time.Waits);
    }

    [Fact]
    public async Task Register_WhenServiceAnswers503_BacksOffExponentiallyWithEqualJitter()
    {
        var time = new SteppingTimeProvider();
        var handler = new ScriptedHttpHandler { Clock = time }
            .ThenRespond(HttpStatusCode.ServiceUnavailable, Dps.Error(503000))
            .ThenRespond(HttpStatusCode.ServiceUnavailable)
            .ThenRespond(HttpStatusCode.ServiceUnavailable, "<html>proxy</html>")
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning(), retryAfter: "0")
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned());

        await RunAsync(time, handler);

        // Equal jitter 0.5 of ceilings 0.5 s, 1 s, 2 s: between half and all of each.
        Assert.Equal([S(0.375), S(0.75), S(1.5)], time.Waits);
        Assert.Equal(4, handler.Requests.Count(r => r.Method == HttpMethod.Put));
    }

    [Fact]
    public async Task Register_BackoffIsCappedAtMaxDelay()
    {
        var time = new SteppingTimeProvider();
        ProvisioningClientOptions options = TestClients.Options(time, random: 1.0);
        options.RetryPolicy = new ProvisioningRetryPolicy { InitialDelay = S(1), MaxDelay = S(2.5) };
        var handler = new ScriptedHttpHandler { Clock = time };
        for (int i = 0; i < 4; i++)
        {
            handler.ThenRespond(HttpStatusCode.InternalServerError);
        }

        handler.ThenRespond(HttpStatusCode.OK, Dps.Assigned());

        await RunAsync(time, handler, options);

        Assert.Equal([S(1), S(2), S(2.5), S(2.5)], time.Waits);
    }

    [Fact]
    public async Task Register_WhenRetryAfterIsAbsurd_WaitsNoLongerThanMaxRetryAfter()
    {
        var time = new SteppingTimeProvider();
        var handler = new ScriptedHttpHandler { Clock = time }
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning(), retryAfter: "2000000000")
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned());

        await RunAsync(time, handler);

        Assert.Equal([TimeSpan.FromMinutes(10)], time.Waits);
    }

    [Fact]
    public async Task Register_WhenRetryAfterIsADateInThePast_PollsAtOnce()
    {
        var time = new SteppingTimeProvider();
        string past = (time.Start - S(30)).ToString("R", CultureInfo.InvariantCulture);
        var handler = new ScriptedHttpHandler { Clock = time }
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning(), retryAfter: past)
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned());

        await RunAsync(time, handler);

        Assert.Empty(time.Waits);
        Assert.Equal([S(0), S(0)], Offsets(time, handler));
    }

    [Fact]
    public async Task Register_WhenRetryAfterIsUnreadable_UsesTheDefault()
    {
        var time = new SteppingTimeProvider();
        var handler = new ScriptedHttpHandler { Clock = time }
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning(), retryAfter: "soon")
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned());

        await RunAsync(time, handler);

        Assert.Equal([S(0.75)], time.Waits);
    }

    [Fact]
    public async Task Register_WhenServiceAnswers429WithRetryAfter_WaitsThatLong()
    {
        var time = new SteppingTimeProvider();
        var handler = new ScriptedHttpHandler { Clock = time }
            .ThenRespond(HttpStatusCode.TooManyRequests, Dps.Error(429001, "Throttled."), retryAfter: "5")
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned());

        await RunAsync(time, handler);

        Assert.Equal([S(0), S(5)], Offsets(time, handler));
    }

    [Fact]
    public async Task Register_WhenAPollFailsTransiently_RetriesThePollOfTheSameOperation()
    {
        var time = new SteppingTimeProvider();
        var handler = new ScriptedHttpHandler { Clock = time }
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning("op-7"), retryAfter: "1")
            .ThenRespond(HttpStatusCode.InternalServerError, Dps.Error(500000))
            .ThenThrow(new HttpRequestException(HttpRequestError.ConnectionError, "Connection reset by peer", new IOException("reset")))
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned(operationId: "op-7"));

        DeviceRegistrationResult result = await RunAsync(time, handler);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Single(handler.Requests, r => r.Method == HttpMethod.Put);
        Assert.All(handler.Requests.Skip(1), r => Assert.EndsWith("/operations/op-7?api-version=2019-03-31", r.Uri.ToString(), StringComparison.Ordinal));
        Assert.Equal([S(1), S(0.375), S(0.75)], time.Waits);
    }

    [Fact]
    public async Task Register_WhenARequestTimesOut_RetriesIt()
    {
        var time = new SteppingTimeProvider();
        ProvisioningClientOptions options = TestClients.Options(time);
        options.RequestTimeout = S(10);
        var handler = new ScriptedHttpHandler { Clock = time }
            .ThenHang()
            .ThenRespond(HttpStatusCode.OK, Dps.Assigned());

        DeviceRegistrationResult result = await RunAsync(time, handler, options);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal(2, handler.Requests.Count);
        Assert.Equal(S(10), handler.Requests[1].At - time.Start - S(0.375));
    }

    [Fact]
    public async Task Register_WhenRetriesAreExhausted_ThrowsTheTransientError()
    {
        var time = new SteppingTimeProvider();
        ProvisioningClientOptions options = TestClients.Options(time);
        options.RetryPolicy.MaxRetries = 2;
        var handler = new ScriptedHttpHandler { Clock = time };
        for (int i = 0; i < 3; i++)
        {
            handler.ThenRespond(HttpStatusCode.ServiceUnavailable, Dps.Error(503001, "Busy.", "track-9"), retryAfter: "1");
        }

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => RunAsync(time, handler, options));

        Assert.True(ex.IsTransient);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ex.StatusCode);
        Assert.Equal(503001, ex.ErrorCode);
        Assert.Equal("track-9", ex.TrackingId);
        Assert.Equal(S(1), ex.RetryAfter);
        Assert.Equal(3, handler.Requests.Count);
    }

    [Theory]
    [InlineData("bad request", HttpStatusCode.BadRequest, 400004)]
    [InlineData("unauthorized with a SAS", HttpStatusCode.Unauthorized, 401002)]
    [InlineData("not found", HttpStatusCode.NotFound, 404201)]
    [InlineData("not implemented", HttpStatusCode.NotImplemented, 501000)]
    public async Task Register_WhenServiceAnswersAPermanentError_StopsAtOnce(string @case, HttpStatusCode status, int errorCode)
    {
        Assert.NotNull(@case);
        var time = new SteppingTimeProvider();
        var handler = new ScriptedHttpHandler { Clock = time }.ThenRespond(status, Dps.Error(errorCode, "Nope.", "track-1"));

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => RunAsync(time, handler));

        Assert.False(ex.IsTransient);
        Assert.Equal(status, ex.StatusCode);
        Assert.Equal(errorCode, ex.ErrorCode);
        Assert.Equal("track-1", ex.TrackingId);
        Assert.Contains("Nope.", ex.Message, StringComparison.Ordinal);
        Assert.Single(handler.Requests);
    }

    [Fact]
    public async Task Register_WhenTheDeadlinePasses_ThrowsATransientTimeout()
    {
        var time = new SteppingTimeProvider();
        ProvisioningClientOptions options = TestClients.Options(time);
        options.RegistrationTimeout = S(30);
        // A request that never ends: the deadline, not a Retry-After (which would end it at once, see below), stops it.
        var handler = new ScriptedHttpHandler { Clock = time }.ThenHang();

        ProvisioningException ex = await Assert.ThrowsAsync<ProvisioningException>(() => RunAsync(time, handler, options));

        Assert.True(ex.IsTransient);
        Assert.Contains("did not finish within", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("disabled", ProvisioningRegistrationStatus.Disabled)]
    [InlineData("failed", ProvisioningRegistrationStatus.Failed)]
    public async Task Register_WhenTheOutcomeIsDisabledOrFailed_ReturnsItAsAResult(string status, ProvisioningRegistrationStatus expected)
    {
        var time = new SteppingTimeProvider();
        string body = $$$"""{"operationId":"op","status":"{{{status}}}","registrationState":{"registrationId":"device-01","status":"{{{status}}}","errorCode":400209,"errorMessage":"Denied."}}""";
        var handler = new ScriptedHttpHandler { Clock = time }
            .ThenRespond(HttpStatusCode.Accepted, Dps.Assigning("op"), retryAfter: "0")
            .ThenRespond(HttpStatusCode.OK, body);

        DeviceRegistrationResult result = await RunAsync(time, handler);

        Assert.Equal(expected, result.Status);
        Assert.Equal(400209, result.ErrorCode);
        Assert.Equal("Denied.", result.ErrorMessage);
        Assert.Null(result.AssignedHub);
    }

    [Fact]
    public async Task Register_WhenAssigned_ReturnsEveryField()
    {
        var time = new SteppingTimeProvider();
        const string body = """
            {"operationId":"op","status":"assigned","registrationState":{"registrationId":"device-01",
             "createdDateTimeUtc":"2020-04-10T03:11:13.0276997Z","assignedHub":"contoso.azure-devices.net","deviceId":"dev-x",
             "status":"assigned","substatus":"deviceDataMigrated","generationId":"gen-1","lastUpdatedDateTimeUtc":"2020-04-10T03:11:14Z",
             "etag":"IjYx","payload":{"returned":[1,2]},
             "x509":{"enrollmentGroupId":"grp","certificateInfo":{"subjectName":"CN=dev","sha1Thumbprint":"AA","sha256Thumbprint":"BB",
               "issuerName":"CN=ca","notBeforeUtc":"2020-01-01T00:00:00Z","notAfterUtc":"2030-01-01T00:00:00Z","serialNumber":"01","version":3}},
             "issuedCertificateChain":["AQ==","Ag=="]}}
            """;
        var handler = new ScriptedHttpHandler { Clock = time }.ThenRespond(HttpStatusCode.OK, body);

        DeviceRegistrationResult r = await RunAsync(time, handler);

        Assert.Equal(("device-01", ProvisioningRegistrationStatus.Assigned, ProvisioningRegistrationSubstatus.DeviceDataMigrated), (r.RegistrationId, r.Status, r.Substatus));
        Assert.Equal(("contoso.azure-devices.net", "dev-x", "gen-1", "IjYx", "op"), (r.AssignedHub, r.DeviceId, r.GenerationId, r.ETag, r.OperationId));
        Assert.Equal(new DateTimeOffset(2020, 4, 10, 3, 11, 13, TimeSpan.Zero).AddTicks(276997), r.CreatedDateTimeUtc);
        Assert.Equal(new DateTimeOffset(2020, 4, 10, 3, 11, 14, TimeSpan.Zero), r.LastUpdatedDateTimeUtc);
        Assert.Equal("""{"returned":[1,2]}""", r.JsonPayload);
        Assert.Equal("grp", r.EnrollmentGroupId);
        Assert.Equal(("CN=dev", "AA", "BB", "CN=ca", "01", 3), (r.CertificateInfo!.SubjectName, r.CertificateInfo.Sha1Thumbprint, r.CertificateInfo.Sha256Thumbprint, r.CertificateInfo.IssuerName, r.CertificateInfo.SerialNumber, r.CertificateInfo.Version));
        Assert.Equal(["AQ==", "Ag=="], r.IssuedCertificateChain);
        Assert.False(r.IsFromCache);
    }
}

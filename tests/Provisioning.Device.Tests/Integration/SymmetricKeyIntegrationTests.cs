using System.Net;

using Provisioning.Emulator.Enrollments;

namespace Provisioning.Device.Tests.Integration;

/// <summary>Symmetric-key registration over real HTTPS against the in-process emulator (dps-protocol.md §1, §3).</summary>
public sealed class SymmetricKeyIntegrationTests
{
    [Fact]
    public async Task Register_IndividualEnrollment_IsAssignedInTwoRequestsAndSignsForItsHub()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("sym-device-01", new EnrollmentSettings { DeviceId = "sym-device-01-in-hub" }, ct);
        using var attestation = new SymmetricKeyAttestation("sym-device-01", keys.PrimaryKey);
        using var client = session.CreateClient(attestation, out RequestCounter counter);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("sym-device-01", result.RegistrationId);
        Assert.Equal("hub1.localhost", result.AssignedHub);
        Assert.Equal("sym-device-01-in-hub", result.DeviceId);
        Assert.NotNull(result.OperationId);
        Assert.NotNull(result.CreatedDateTimeUtc);
        Assert.NotNull(result.ETag);
        Assert.False(result.IsFromCache);
        // PUT answers 202 assigning with Retry-After: 0; one GET brings assigned.
        Assert.Equal(1, counter.Puts);
        Assert.Equal(1, counter.Gets);
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
    }

    [Theory]
    [InlineData("2019-03-31")]
    [InlineData("2021-06-01")]
    [InlineData("2025-07-01-preview")]
    public async Task Register_WithEachSupportedApiVersion_IsAssigned(string apiVersion)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("versioned-device", cancellationToken: ct);
        using var attestation = new SymmetricKeyAttestation("versioned-device", keys.PrimaryKey);
        using var client = session.CreateClient(attestation, out _);

        DeviceRegistrationResult result = await client.RegisterAsync(new ProvisioningRegistrationRequest { ApiVersion = apiVersion }, ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
    }

    [Fact]
    public async Task Register_UnsupportedApiVersion_ThrowsBadRequestNotTransient()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("old-api-device", cancellationToken: ct);
        using var attestation = new SymmetricKeyAttestation("old-api-device", keys.PrimaryKey);
        using var client = session.CreateClient(attestation, out RequestCounter counter);

        var ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(new ProvisioningRegistrationRequest { ApiVersion = "2017-11-15" }, ct));

        Assert.Equal(HttpStatusCode.BadRequest, ex.StatusCode);
        Assert.Equal(400002, ex.ErrorCode);
        Assert.False(ex.IsTransient);
        Assert.Equal(1, counter.Total);
    }

    [Fact]
    public async Task Register_GroupMemberWithDerivedKey_IsAssignedThroughTheGroup()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair group = await session.Dps.Enrollments.AddSymmetricKeyGroupAsync("sym-group", cancellationToken: ct);
        using var attestation = SymmetricKeyAttestation.FromEnrollmentGroup("group-member-7", group.PrimaryKey);
        using var client = session.CreateClient(attestation, out _);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("group-member-7", result.DeviceId);
        Assert.Equal("sym-group", result.EnrollmentGroupId);
        Assert.Equal(group.DeriveDeviceKey("group-member-7"), SymmetricKeyAttestation.DeriveDeviceKey(group.PrimaryKey, "group-member-7"));
        await HubSas.AssertSignsForHubAsync(session, attestation, result);
    }

    [Fact]
    public async Task Register_DisabledEnrollment_ReturnsDisabledNotAnException()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync("disabled-device", new EnrollmentSettings { Enabled = false }, ct);
        using var attestation = new SymmetricKeyAttestation("disabled-device", keys.PrimaryKey);
        using var client = session.CreateClient(attestation, out _);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Disabled, result.Status);
        Assert.Null(result.AssignedHub);
        Assert.Null(result.DeviceId);
    }

    [Fact]
    public async Task Register_UnknownDevice_ThrowsUnauthorizedWithErrorCodeAndTrackingId_NotTransient()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        using var attestation = new SymmetricKeyAttestation("nobody-enrolled-me", Convert.ToBase64String(new byte[32]));
        using var client = session.CreateClient(attestation, out RequestCounter counter);

        var ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: ct));

        Assert.Equal(HttpStatusCode.Unauthorized, ex.StatusCode);
        Assert.Equal(401002, ex.ErrorCode);
        Assert.False(string.IsNullOrEmpty(ex.TrackingId));
        Assert.False(ex.IsTransient);
        Assert.Equal(1, counter.Total);
    }

    [Fact]
    public async Task Register_WrongKey_ThrowsUnauthorizedAndNeverLeaksTheSignature()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync();
        await session.Dps.Enrollments.AddSymmetricKeyAsync("wrong-key-device", cancellationToken: ct);
        using var attestation = new SymmetricKeyAttestation("wrong-key-device", Convert.ToBase64String(new byte[32]));
        using var client = session.CreateClient(attestation, out _);

        var ex = await Assert.ThrowsAsync<ProvisioningException>(() => client.RegisterAsync(cancellationToken: ct));

        Assert.Equal(401002, ex.ErrorCode);
        Assert.False(ex.IsTransient);
        Assert.DoesNotContain("sig=", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("SharedAccessSignature", ex.Message, StringComparison.Ordinal);
    }
}

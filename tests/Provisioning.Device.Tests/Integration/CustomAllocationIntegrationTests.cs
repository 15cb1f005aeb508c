using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

using Provisioning.Emulator.Enrollments;

namespace Provisioning.Device.Tests.Integration;

/// <summary>
/// The device payload reaches a custom allocation webhook served by this test, and the webhook's payload comes back on
/// the result (dps-protocol.md §1.3, §1.6).
/// </summary>
public sealed class CustomAllocationIntegrationTests
{
    private static readonly Uri WebhookUrl = new("https://allocator.test/api/allocate");

    [Fact]
    public async Task Register_WithPayloadAndModelId_RoundTripsThroughTheCustomAllocationWebhook()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var webhook = new AllocationWebhook();
        await using var session = await EmulatorSession.StartAsync(o =>
        {
            o.Hubs.Add(new Emulator.LinkedHub("hub-a.localhost"));
            o.Hubs.Add(new Emulator.LinkedHub("hub-b.localhost"));
            o.WebhookHandler = webhook;
        });
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync(
            "custom-device", new EnrollmentSettings { AllocationPolicy = AllocationPolicy.Custom, WebhookUrl = WebhookUrl }, ct);
        using var attestation = new SymmetricKeyAttestation("custom-device", keys.PrimaryKey);
        using var client = session.CreateClient(attestation, out _);

        DeviceRegistrationResult result = await client.RegisterAsync(
            new ProvisioningRegistrationRequest { JsonPayload = """{"firmware":"1.2.3","wantHub":"hub-b.localhost"}""", ModelId = "dtmi:contoso:thermostat;1" }, ct);

        Assert.Equal(ProvisioningRegistrationStatus.Assigned, result.Status);
        Assert.Equal("hub-b.localhost", result.AssignedHub);
        JsonNode? sent = webhook.ReceivedPayload;
        Assert.NotNull(sent);
        Assert.Equal("1.2.3", (string?)sent["firmware"]);
        Assert.Equal("dtmi:contoso:thermostat;1", (string?)sent["modelId"]);
        Assert.NotNull(result.JsonPayload);
        JsonNode? returned = JsonNode.Parse(result.JsonPayload);
        Assert.Equal("hub-b.localhost", (string?)returned?["allocatedTo"]);
        Assert.Equal("1.2.3", (string?)returned?["echo"]?["firmware"]);
    }

    [Fact]
    public async Task Register_WhenTheWebhookFails_ReturnsFailedWithTheServiceErrorCode_NotAnException()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var session = await EmulatorSession.StartAsync(o => o.WebhookHandler = new AllocationWebhook());
        SymmetricKeyPair keys = await session.Dps.Enrollments.AddSymmetricKeyAsync(
            "unallocated-device", new EnrollmentSettings { AllocationPolicy = AllocationPolicy.Custom, WebhookUrl = new Uri("https://allocator.test/missing") }, ct);
        using var attestation = new SymmetricKeyAttestation("unallocated-device", keys.PrimaryKey);
        using var client = session.CreateClient(attestation, out _);

        DeviceRegistrationResult result = await client.RegisterAsync(cancellationToken: ct);

        Assert.Equal(ProvisioningRegistrationStatus.Failed, result.Status);
        Assert.Equal(400209, result.ErrorCode);
        Assert.False(string.IsNullOrEmpty(result.ErrorMessage));
        Assert.Null(result.AssignedHub);
    }

    /// <summary>The webhook: assigns the hub the device asked for and echoes its payload.</summary>
    private sealed class AllocationWebhook : HttpMessageHandler
    {
        public JsonNode? ReceivedPayload { get; private set; }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Method != HttpMethod.Post || request.RequestUri != WebhookUrl || request.Content is null)
            {
                return new HttpResponseMessage(HttpStatusCode.NotFound);
            }

            JsonNode body = JsonNode.Parse(await request.Content.ReadAsStringAsync(cancellationToken))!;
            ReceivedPayload = body["deviceRuntimeContext"]?["payload"]?.DeepClone();
            string hub = (string?)ReceivedPayload?["wantHub"] ?? "hub-a.localhost";
            var answer = new JsonObject
            {
                ["iotHubHostName"] = hub,
                ["payload"] = new JsonObject { ["allocatedTo"] = hub, ["echo"] = ReceivedPayload?.DeepClone() },
            };
            return new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent(answer.ToJsonString(JsonSerializerOptions.Default), Encoding.UTF8, "application/json"),
            };
        }
    }
}

using System.Net;
using System.Text.Json;

using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Provisioning.Samples.FleetSimulator;

/// <summary>
/// A custom allocation webhook served in-process on loopback: DPS posts the device's runtime context and the linked hubs;
/// the webhook answers round-robin over them, so the fleet spreads evenly, and returns a payload the device receives.
/// </summary>
internal sealed class AllocationWebhook : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _next;

    private AllocationWebhook(WebApplication app) => _app = app;

    public Uri Url { get; private set; } = null!;

    public int Calls => Volatile.Read(ref _next);

    public static async Task<AllocationWebhook> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions());
        builder.Services.AddRoutingCore();
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var webhook = new AllocationWebhook(app);
        app.UseRouting();
        app.MapPost("/allocate", webhook.AllocateAsync);
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        webhook.Url = new Uri(new Uri(address), "/allocate");
        return webhook;
    }

    private async Task AllocateAsync(HttpContext context)
    {
        using var request = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
        var hubs = request.RootElement.TryGetProperty("linkedHubs", out var linked) && linked.ValueKind == JsonValueKind.Array
            ? linked.EnumerateArray().Select(h => h.GetString()).OfType<string>().ToArray()
            : [];
        if (hubs.Length == 0)
        {
            context.Response.StatusCode = StatusCodes.Status400BadRequest;
            return;
        }

        var hub = hubs[(int)((uint)(Interlocked.Increment(ref _next) - 1) % (uint)hubs.Length)];
        context.Response.ContentType = "application/json";
        await using var writer = new Utf8JsonWriter(context.Response.Body);
        writer.WriteStartObject();
        writer.WriteString("iotHubHostName", hub);
        writer.WriteStartObject("payload");
        writer.WriteString("allocatedBy", "FleetSimulator webhook");
        writer.WriteEndObject();
        writer.WriteEndObject();
        await writer.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}

using System.Net.Http.Json;
using System.Text.Json;

using Provisioning.Emulator.Json;

namespace Provisioning.Emulator.Allocation;

/// <summary>Calls a custom allocation webhook with the real request shape and reads its answer.</summary>
internal sealed class CustomAllocationClient(HttpClient http)
{
    /// <summary>POSTs the request; returns the answer, or null with a reason when the webhook failed.</summary>
    public async Task<(CustomAllocationResponse? Response, string? Failure)> CallAsync(Uri webhook, CustomAllocationRequest request, CancellationToken cancellationToken)
    {
        try
        {
            using var response = await http.PostAsJsonAsync(webhook, request, EmulatorJsonContext.Default.CustomAllocationRequest, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                return (null, $"The custom allocation webhook answered {(int)response.StatusCode}.");
            }

            var body = await response.Content.ReadFromJsonAsync(EmulatorJsonContext.Default.CustomAllocationResponse, cancellationToken).ConfigureAwait(false);
            return body is null ? (null, "The custom allocation webhook answered an empty body.") : (body, null);
        }
        catch (HttpRequestException ex)
        {
            return (null, "The custom allocation webhook could not be reached: " + ex.Message);
        }
        catch (JsonException)
        {
            return (null, "The custom allocation webhook answered malformed JSON.");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, "The custom allocation webhook timed out.");
        }
    }
}

using System.Diagnostics;

namespace Provisioning.Samples.FleetSimulator;

/// <summary>
/// Counts the fleet's requests to DPS over HTTPS through the <c>System.Net.Http</c> activity source (no hook in the client):
/// every request, and those the faults answered (429, 5xx, or no answer). The ones that were answered are what a fault-free run
/// sends, so <see cref="Amplification"/> = all ÷ answered; with a share f of requests failing, 1 ÷ (1 − f) is its floor.
/// </summary>
internal sealed class RequestCounter : IDisposable
{
    private readonly string _authority;
    private readonly ActivityListener _listener;
    private long _requests;
    private long _failed;

    public RequestCounter(Uri dps)
    {
        _authority = dps.Authority;
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is "System.Net.Http" or "Provisioning.Device", // HttpClient, or the client's own HTTP/1.1
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = OnStopped,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public long Requests => Interlocked.Read(ref _requests);

    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>All requests ÷ the answered ones, or null when nothing was counted (DPS over MQTT).</summary>
    public double? Amplification => Requests == 0 || Requests == Failed ? null : Math.Round(Requests / (double)(Requests - Failed), 3);

    public void Dispose() => _listener.Dispose();

    private void OnStopped(Activity activity)
    {
        // Only the devices' requests to DPS: not the emulator's own calls (an allocation webhook).
        if (activity.GetTagItem("url.full") is not string url || !Uri.TryCreate(url, UriKind.Absolute, out var uri)
            || uri.Authority != _authority || !uri.AbsolutePath.Contains("/registrations/", StringComparison.Ordinal))
        {
            return;
        }

        Interlocked.Increment(ref _requests);
        var status = activity.GetTagItem("http.response.status_code") switch
        {
            int code => code,
            string text when int.TryParse(text, out var code) => code,
            _ => 0,
        };
        if (status is 0 or 408 or 429 or >= 500)
        {
            Interlocked.Increment(ref _failed);
        }
    }
}

using System.Globalization;

namespace Provisioning.Samples.FleetSimulator;

/// <summary>A one-line progress bar redrawn in place, for a terminal only (never into a pipe or a file).</summary>
internal sealed class ProgressBar : IAsyncDisposable
{
    private const int Width = 30;
    private readonly Fleet _fleet;
    private readonly TextWriter _output;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private readonly DateTime _started = DateTime.UtcNow;

    public ProgressBar(Fleet fleet, TextWriter output)
    {
        _fleet = fleet;
        _output = output;
        _loop = RunAsync();
    }

    private async Task RunAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                Draw();
            }
        }
        catch (OperationCanceledException)
        {
            Draw();
        }
    }

    private void Draw()
    {
        var total = _fleet.Options.Devices;
        var done = _fleet.Finished;
        var filled = (int)((long)Width * done / total);
        var seconds = (DateTime.UtcNow - _started).TotalSeconds;
        var rate = seconds > 0 ? _fleet.Assigned / seconds : 0;
        _output.Write(string.Create(CultureInfo.InvariantCulture,
            $"\r[{new string('#', filled)}{new string('.', Width - filled)}] {done}/{total} done  assigned {_fleet.Assigned}  failed {_fleet.Failed}  retries {_fleet.Retries.Retries}  {rate:0} reg/s "));
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        _output.WriteLine();
        _stop.Dispose();
    }
}

// FleetSimulator: many devices, many hubs. Provisions a fleet against the in-process emulator, each device with its own
// identity, then sends one message from each, and prints where they went and how fast.
//   dotnet run -c Release --project samples/FleetSimulator -- --devices 1000 --hubs 3 --allocation hashed
using System.Text.Json;

using Provisioning.Samples.FleetSimulator;

var options = FleetOptions.Parse(args, out var error);
if (options.Help || error is not null)
{
    if (error is not null)
    {
        await Console.Error.WriteLineAsync($"error: {error}");
    }

    Console.WriteLine(FleetOptions.Usage);
    return error is null ? 0 : 2;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

try
{
    await using var fleet = await Fleet.StartAsync(options, options.Verbose ? Console.Error : null, cancel.Token);
    Console.WriteLine($"Provisioning {options.Devices} devices ({(options.Tpm ? "one software TPM each" : "symmetric keys from one enrollment group")}) over {options.Hubs} hubs, {options.AllocationName} allocation, {options.Concurrency} at a time.");
    FleetResult result;
    var progress = Console.IsOutputRedirected ? null : new ProgressBar(fleet, Console.Out);
    try
    {
        result = await fleet.RunAsync(cancel.Token);
    }
    finally
    {
        if (progress is not null)
        {
            await progress.DisposeAsync();
        }
    }

    result.WriteTable(Console.Out);
    if (options.Json)
    {
        Console.WriteLine(JsonSerializer.Serialize(result.ToReport(), FleetJsonContext.Default.FleetReport));
    }

    return result.Lost == 0 ? 0 : 1;
}
catch (Exception e) when (e is not OutOfMemoryException)
{
    await Console.Error.WriteLineAsync($"error: {(e is OperationCanceledException ? "canceled" : e.Message)}");
    if (options.Verbose)
    {
        await Console.Error.WriteLineAsync(e.ToString());
    }

    return 1;
}

// FirstBoot: the project's main job, shown step by step. A device with a TPM proves its identity to the Device Provisioning
// Service, is assigned to an IoT hub, connects and sends telemetry; the second boot goes straight to the hub from the cache.
//   dotnet run --project samples/FirstBoot                      embedded emulator, software TPM, HTTPS
//   dotnet run --project samples/FirstBoot -- --help            every option (real Azure DPS, symmetric key, X.509, --json)
using System.Text.Json;

using Provisioning.Samples.FirstBoot;

var options = FirstBootOptions.Parse(args, out var error);
if (options.Help)
{
    Console.WriteLine(FirstBootOptions.Usage);
    return 0;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};

var run = new FirstBootRun(options, Console.Out, options.Verbose ? Console.Error : null);
var exitCode = 0;
if (error is not null)
{
    run.Report.Error = error;
    exitCode = 2;
}
else
{
    try
    {
        await run.RunAsync(cancel.Token);
        exitCode = run.Report.Status == "assigned" ? 0 : 1;
    }
    catch (Exception e) when (e is not OutOfMemoryException)
    {
        // A sample's boundary: every failure becomes one line (and the JSON report); the stack only when asked.
        run.Report.Status = "error";
        run.Report.Error = ErrorText.Describe(e);
        exitCode = 1;
        if (options.Verbose)
        {
            await Console.Error.WriteLineAsync(e.ToString());
        }
    }
}

if (run.Report.Error is { } problem)
{
    await Console.Error.WriteLineAsync($"error: {problem}");
    if (exitCode == 2 && !options.Json)
    {
        await Console.Error.WriteLineAsync("(FirstBoot --help lists the options)");
    }
}

if (options.Json)
{
    Console.WriteLine(JsonSerializer.Serialize(run.Report, FirstBootJsonContext.Default.FirstBootReport));
}

return exitCode;

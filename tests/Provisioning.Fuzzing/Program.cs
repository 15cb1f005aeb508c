using Provisioning.Fuzzing;

// Provisioning.Fuzzing <target>                     one afl++ fuzzing process for the target (see run.sh); reads stdin once otherwise
// Provisioning.Fuzzing --replay <target> <path>...  runs files (or every file of folders) through the target, prints each outcome
// Provisioning.Fuzzing --write-seeds <dir>          writes the seed corpus (golden vectors) into <dir>/<target>/
// Provisioning.Fuzzing --list                       prints the target names
if (args is ["--list"])
{
    foreach (var name in FuzzTargets.Names)
    {
        Console.WriteLine(name);
    }

    return 0;
}

if (args is ["--write-seeds", var seedDirectory])
{
    await Seeds.WriteAsync(seedDirectory).ConfigureAwait(false);
    return 0;
}

if (args is ["--replay", var replayTarget, .. var paths] && paths.Length > 0)
{
    var target = FuzzTargets.Get(replayTarget);
    var failures = 0;
    foreach (var file in paths.SelectMany(p => Directory.Exists(p) ? Directory.EnumerateFiles(p).Order(StringComparer.Ordinal) : (IEnumerable<string>)[p]))
    {
        var input = await File.ReadAllBytesAsync(file).ConfigureAwait(false);
        try
        {
            var outcome = FuzzHarness.Execute(target, input);
            Console.WriteLine($"{file}: {(outcome.Rejected is { } r ? "refused (" + r.GetType().Name + ": " + r.Message + ")" : "accepted")}, {outcome.AllocatedBytes} bytes allocated");
        }
        catch (FuzzInvariantException ex)
        {
            failures++;
            Console.WriteLine($"{file}: INVARIANT BROKEN: {ex.Message}");
            Console.WriteLine(ex.InnerException?.ToString());
        }
    }

    return failures == 0 ? 0 : 1;
}

if (args is [var fuzzTarget])
{
    var target = FuzzTargets.Get(fuzzTarget);

    // Persistent mode: afl++ sends input after input to this one process. An invariant broken escapes as a crash.
    SharpFuzz.Fuzzer.Run(stream =>
    {
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        FuzzHarness.Execute(target, copy.ToArray());
    });
    return 0;
}

await Console.Error.WriteLineAsync($"usage: Provisioning.Fuzzing <target> | --replay <target> <path>... | --write-seeds <dir> | --list\ntargets: {string.Join(", ", FuzzTargets.Names)}").ConfigureAwait(false);
return 2;

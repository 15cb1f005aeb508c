using System.Diagnostics;

using CsCheck;

namespace Provisioning.Fuzzing.Tests;

/// <summary>
/// One property per parser that reads outside bytes: for golden vectors mutated (bit flips, truncation, insertion, length-field
/// tampering, JSON value and duplicate-key mutations, splices), the parser succeeds or throws its layer's typed exception, within
/// a bounded time, allocating at most its bound; nothing else escapes. A failure is shrunk by CsCheck to the fewest, smallest
/// mutations and printed with the bytes and the seed that reproduces it (set <c>CsCheck_Seed</c> to replay it).
/// </summary>
/// <remarks>The case counts are bounded so the whole class stays well under a minute on a 2-core machine; the long runs are
/// tests/Provisioning.Fuzzing (afl++). <c>CsCheck_Iter</c> overrides the counts for a deeper local run.</remarks>
public sealed class ParserPropertyTests
{
    /// <summary>A hang detector, not a speed claim: every input here is at most a few KiB and parses in microseconds.</summary>
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    [Fact] public void TpmResponse() => Check("tpm-response", 12_000);

    [Fact] public void ActivationBlob() => Check("activation-blob", 8_000);

    [Fact] public void TpmPublic() => Check("tpm-public", 12_000);

    [Fact] public void DpsHttpsAnswer() => Check("dps-https", 12_000);

    [Fact] public void DpsMqttAnswer() => Check("dps-mqtt", 12_000);

    [Fact] public void RegistrationCacheFile() => Check("registration-cache", 8_000);

    [Fact] public void HubTopics() => Check("hub-topics", 12_000);

    [Fact] public void HubTwinDocuments() => Check("hub-twin", 12_000);

    [Fact] public void EmulatorRequestBody() => Check("emu-request-body", 8_000);

    [Fact] public void EmulatorSasToken() => Check("emu-sas", 12_000);

    [Fact] public void EmulatorCsr() => Check("emu-csr", 6_000);

    [Fact] public void EmulatorEnrollmentDocuments() => Check("emu-enrollment", 8_000);

    [Fact] public void EmulatorTpmKeys() => Check("emu-tpm-keys", 6_000);

    [Fact] public void EmulatorTopics() => Check("emu-topics", 12_000);

    [Fact] public void EmulatorHubTwin() => Check("emu-hub-twin", 12_000);

    [Fact]
    public void EveryTargetHasAPropertyAndGoldenVectors()
    {
        var covered = typeof(ParserPropertyTests).GetMethods().Where(m => m.GetCustomAttributes(typeof(FactAttribute), false).Length > 0).Count() - 1;
        Assert.Equal(FuzzTargets.All.Count, covered);
        foreach (var target in FuzzTargets.All)
        {
            Assert.NotEmpty(GoldenVectors.Of(target.Name));
        }
    }

    private static void Check(string name, long iterations)
    {
        var target = FuzzTargets.Get(name);
        var seeds = GoldenVectors.Of(name);

        // The golden vectors themselves keep the invariant (and warm up JIT and type initialisation, which would otherwise
        // count as the first case's allocation).
        foreach (var seed in seeds)
        {
            FuzzHarness.Execute(target, seed);
        }

        Mutations.For(seeds).Sample(
            input =>
            {
                var clock = Stopwatch.StartNew();
                FuzzHarness.Execute(target, input.Bytes);
                if (clock.Elapsed > Deadline)
                {
                    throw new FuzzInvariantException($"{name}: one input took {clock.Elapsed.TotalSeconds:0.0} s (a hang).");
                }
            },
            iter: iterations,
            print: input => input.ToString());
    }
}

/// <summary>The committed seed corpus of tests/Provisioning.Fuzzing (copied beside the tests).</summary>
internal static class GoldenVectors
{
    public static byte[][] Of(string target)
    {
        var folder = Path.Combine(AppContext.BaseDirectory, "corpus", target);
        return Directory.Exists(folder)
            ? [.. Directory.EnumerateFiles(folder).Order(StringComparer.Ordinal).Select(File.ReadAllBytes)]
            : [];
    }
}

// Times the software TPM through our whole TPM stack: one activation (ActivateIdentityKeyAsync: policy session,
// PolicySecret, ActivateCredential, Import, Load, evict the old key, EvictControl, flushes; two RSA-2048 private-key
// operations in managed BigInteger arithmetic) and one HMAC, each as median/min/p90 of many runs. Blobs come from the
// emulator's TpmCredentialIssuer; the HMAC is checked against the plaintext key so the figures cannot come from a broken run.
// Usage: dotnet run -c Release --project tests/Provisioning.Device.Tpm.Software.Benchmarks [-- <activations> <hmacs> [<state-dir>]]
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;

using Provisioning.Device.Tpm;
using Provisioning.Emulator.Tpm;

var activations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 200;
var hmacs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 5000;
var spec = args.Length > 2 ? "software:" + args[2] : "software";

var cold = Stopwatch.StartNew();
await using var identity = TpmIdentity.Open(spec);
var ek = await identity.GetEndorsementKeyAsync();
var srk = await identity.GetStorageRootKeyAsync();
cold.Stop();

var issuer = new TpmCredentialIssuer();
var blobs = Enumerable.Range(0, activations + 10).Select(_ => issuer.Issue(ek, srk)).ToArray();
var next = 0;
var activation = await MeasureAsync(activations, () => identity.ActivateIdentityKeyAsync(blobs[next++].AuthenticationKey));
var last = blobs[next - 1];

var data64 = new byte[64];
var data3000 = new byte[3000];
var hmac64 = await MeasureAsync(hmacs, async () => await identity.SignAsync(data64));
var hmac3000 = await MeasureAsync(hmacs / 4, async () => await identity.SignAsync(data3000));
var signature = await identity.SignAsync(data64);
if (!HMACSHA256.HashData(last.IdentityKey, data64).AsSpan().SequenceEqual(signature))
{
    Console.Error.WriteLine("HMAC differs from the plaintext key's: the figures are void.");
    return 1;
}

Console.WriteLine($"software TPM ({spec}), {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription}");
Console.WriteLine($"EnsureKeys, new TPM (2x RSA-2048 generation + EvictControl): {cold.Elapsed.TotalMilliseconds,8:0.00} ms (once)");
Print("Activation (ActivateCredential -> persist)", activation);
Print("HMAC-SHA256, 64 bytes (TPM2_HMAC)", hmac64);
Print("HMAC-SHA256, 3000 bytes (HMAC sequence)", hmac3000);
return 0;

static async Task<double[]> MeasureAsync(int runs, Func<ValueTask> action)
{
    for (var i = 0; i < Math.Max(3, Math.Min(10, runs / 20)); i++)
    {
        await action(); // warm-up: JIT
    }

    var times = new double[runs];
    for (var i = 0; i < runs; i++)
    {
        var start = Stopwatch.GetTimestamp();
        await action();
        times[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    Array.Sort(times);
    return times;
}

static void Print(string what, double[] sorted)
    => Console.WriteLine(string.Create(
        CultureInfo.InvariantCulture,
        $"{what,-45} median {sorted[sorted.Length / 2],8:0.000} ms  min {sorted[0],8:0.000} ms  p90 {sorted[(int)(sorted.Length * 0.9)],8:0.000} ms  ({sorted.Length} runs)"));

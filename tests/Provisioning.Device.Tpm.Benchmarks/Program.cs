// Times our TPM stack on swtpm: a full activation (ActivateIdentityKeyAsync: policy session, PolicySecret,
// ActivateCredential, Import, Load, evict the old key, EvictControl, flushes) and one HMAC, each as median/min/max of many runs,
// and counts the TPM commands of each step as a device process runs it (a new identity; TPM2_Startup only if the TPM needs it; a
// TPM_RC_RETRY the TPM asks for is not counted, it is the TPM's).
// Usage: dotnet run -c Release --project tests/Provisioning.Device.Tpm.Benchmarks [-- <activations> <hmacs>]
using System.Diagnostics;
using System.Globalization;

using Provisioning.Device.Tpm;
using Provisioning.Testing;

var activations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 50;
var hmacs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2000;
if (!Swtpm.IsInstalled || !Swtpm.ToolsInstalled)
{
    Console.Error.WriteLine("swtpm and tpm2-tools are needed: apt-get install swtpm swtpm-tools tpm2-tools");
    return 1;
}

await using var device = await SwtpmInstance.StartNewAsync();
await using var helper = await SwtpmInstance.StartNewAsync();

var cold = Stopwatch.StartNew();
byte[] ek = [], srk = [];
var firstRunCommands = await CountAsync(async first =>
{
    ek = await first.GetEndorsementKeyAsync();
    srk = await first.GetStorageRootKeyAsync();
});

cold.Stop();
var blob = await DpsBlobBuilder.BuildAsync(helper, ek, srk);
var laterRunCommands = await CountAsync(async later => await later.EnsureKeysAsync());
var activationCommands = await CountAsync(async fresh => await fresh.ActivateIdentityKeyAsync(blob.Blob));
var sign64Commands = await CountAsync(async fresh => await fresh.SignAsync(new byte[64]));
var sign3000Commands = await CountAsync(async fresh => await fresh.SignAsync(new byte[3000]));

await using var identity = TpmIdentity.Open(device.TransportSpec);
var warm = Stopwatch.StartNew();
await identity.EnsureKeysAsync();
warm.Stop();

var activation = await MeasureAsync(activations, () => identity.ActivateIdentityKeyAsync(blob.Blob));
var data64 = new byte[64];
var data3000 = new byte[3000];
var hmac64 = await MeasureAsync(hmacs, async () => await identity.SignAsync(data64));
var hmac3000 = await MeasureAsync(hmacs / 4, async () => await identity.SignAsync(data3000));

var expected = await DpsBlobBuilder.OpensslHmacAsync(blob.IdentityKey, data64);
var actual = await identity.SignAsync(data64);
if (!expected.AsSpan().SequenceEqual(actual))
{
    Console.Error.WriteLine("HMAC mismatch with openssl: the figures are void.");
    return 1;
}

Console.WriteLine($"swtpm {device.TransportSpec}, {Environment.ProcessorCount} cores, .NET {Environment.Version}");
Console.WriteLine($"EnsureKeys, fresh TPM (2x CreatePrimary + EvictControl): {cold.Elapsed.TotalMilliseconds,8:0.00} ms (once)");
Console.WriteLine($"EnsureKeys, keys persisted (ReadPublic only):          {warm.Elapsed.TotalMilliseconds,8:0.00} ms (once)");
Print("Activation (ActivateCredential -> persist)", activation);
Print("HMAC-SHA256, 64 bytes (TPM2_HMAC)", hmac64);
Print("HMAC-SHA256, 3000 bytes (HMAC sequence)", hmac3000);
Console.WriteLine(
    $"TPM commands: first run {firstRunCommands}, later runs {laterRunCommands}, activation {activationCommands}, "
    + $"sign {sign64Commands} (64 bytes) to {sign3000Commands} (3000 bytes)");
return 0;

async Task<int> CountAsync(Func<TpmIdentity, Task> action)
{
    await using var recorder = new RecordingTpmTransport(TpmTransport.Open(device.TransportSpec));
    await using (var counted = new TpmIdentity(recorder, ownsTransport: false))
    {
        await action(counted);
    }

    return recorder.Exchanges.Count(e => !TpmResponseCode.IsRetryable(e.ResponseCode));
}

static async Task<double[]> MeasureAsync(int runs, Func<ValueTask> action)
{
    for (var i = 0; i < Math.Max(3, runs / 20); i++)
    {
        await action(); // warm-up: JIT, connection
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
    => Console.WriteLine(
        $"{what,-45} median {sorted[sorted.Length / 2],8:0.000} ms  min {sorted[0],8:0.000} ms  p90 {sorted[(int)(sorted.Length * 0.9)],8:0.000} ms  ({sorted.Length} runs)");

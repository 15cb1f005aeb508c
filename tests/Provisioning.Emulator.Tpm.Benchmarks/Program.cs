// Time of one service-side TPM activation blob (TpmCredentialIssuer.Issue: validate EK and SRK, MakeCredential,
// duplicate, two RSA-2048 public-key operations), mean over N after a warm-up.
// Usage: dotnet run -c Release --project tests/Provisioning.Emulator.Tpm.Benchmarks [-- N]
using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using Provisioning.Emulator.Tpm;

var iterations = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 2000;
using var ekKey = RSA.Create(2048);
using var srkKey = RSA.Create(2048);
var ek = StorageKeyPublic(0x000300B2, Convert.FromHexString("837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa"), ekKey.ExportParameters(false).Modulus!);
var srk = StorageKeyPublic(0x00030472, [], srkKey.ExportParameters(false).Modulus!);
var issuer = new TpmCredentialIssuer();

for (var i = 0; i < Math.Min(200, iterations); i++)
{
    issuer.Issue(ek, srk);
}

var samples = new double[iterations];
var total = Stopwatch.StartNew();
for (var i = 0; i < iterations; i++)
{
    var start = Stopwatch.GetTimestamp();
    issuer.Issue(ek, srk);
    samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
}

total.Stop();
Array.Sort(samples);
Console.WriteLine(string.Create(
    CultureInfo.InvariantCulture,
    $"TpmCredentialIssuer.Issue (RSA-2048 EK + SRK, 766-byte blob): mean {total.Elapsed.TotalMicroseconds / iterations:F1} µs, "
    + $"median {samples[iterations / 2]:F1} µs, p99 {samples[(int)(iterations * 0.99)]:F1} µs over {iterations} runs "
    + $"({Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.FrameworkDescription})"));

// TPM2B_PUBLIC of an RSA-2048 storage key (dps-protocol.md §2.2), written here so the benchmark needs no internals.
static byte[] StorageKeyPublic(uint attributes, byte[] policy, byte[] modulus)
{
    var bytes = new byte[2 + 2 + 2 + 4 + 2 + policy.Length + 2 + 2 + 2 + 2 + 2 + 4 + 2 + modulus.Length];
    var span = bytes.AsSpan(2);
    BinaryPrimitives.WriteUInt16BigEndian(span, 0x0001);
    BinaryPrimitives.WriteUInt16BigEndian(span[2..], 0x000B);
    BinaryPrimitives.WriteUInt32BigEndian(span[4..], attributes);
    BinaryPrimitives.WriteUInt16BigEndian(span[8..], (ushort)policy.Length);
    policy.CopyTo(span[10..]);
    span = span[(10 + policy.Length)..];
    BinaryPrimitives.WriteUInt16BigEndian(span, 0x0006);
    BinaryPrimitives.WriteUInt16BigEndian(span[2..], 128);
    BinaryPrimitives.WriteUInt16BigEndian(span[4..], 0x0043);
    BinaryPrimitives.WriteUInt16BigEndian(span[6..], 0x0010);
    BinaryPrimitives.WriteUInt16BigEndian(span[8..], 2048);
    BinaryPrimitives.WriteUInt32BigEndian(span[10..], 0);
    BinaryPrimitives.WriteUInt16BigEndian(span[14..], (ushort)modulus.Length);
    modulus.CopyTo(span[16..]);
    BinaryPrimitives.WriteUInt16BigEndian(bytes, (ushort)(bytes.Length - 2));
    return bytes;
}

namespace Provisioning.Emulator.Tests.Tpm;

/// <summary>Deterministic "randomness": the bytes 0, 1, 2, … across calls, so each value the issuer draws is known.</summary>
/// <remarks>With the issuer's draw order: identity key 00..1f, seedValue 20..3f, inner key 40..4f, credential seed 50..6f,
/// its OAEP seed 70..8f, duplication seed 90..af, its OAEP seed b0..cf.</remarks>
internal sealed class CountingRandom
{
    private byte _next;

    public void Fill(Span<byte> destination)
    {
        for (var i = 0; i < destination.Length; i++)
        {
            destination[i] = _next++;
        }
    }

    public static byte[] Range(int start, int count) => Enumerable.Range(start, count).Select(i => (byte)i).ToArray();
}

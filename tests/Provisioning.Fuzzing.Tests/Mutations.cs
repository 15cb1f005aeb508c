using System.Buffers.Binary;
using System.Text;

using CsCheck;

namespace Provisioning.Fuzzing.Tests;

/// <summary>What a mutation does; positions and values are reduced modulo the input, so every mutation applies to every input.</summary>
public enum MutationKind
{
    /// <summary>Flips one bit.</summary>
    FlipBit,

    /// <summary>Cuts the input short.</summary>
    Truncate,

    /// <summary>Inserts random bytes.</summary>
    Insert,

    /// <summary>Deletes a run of bytes.</summary>
    Delete,

    /// <summary>Overwrites a big-endian UINT16 (a TPM2B size, an ASN.1 long length) with a boundary value.</summary>
    LengthField,

    /// <summary>Overwrites a big-endian UINT32 (a header size, a response code, a parameterSize) with a boundary value.</summary>
    LengthField32,

    /// <summary>Inserts a token of the format (a JSON snippet, a topic separator, an escape).</summary>
    InsertToken,

    /// <summary>Replaces a JSON value (after a ':' ',' or '[') with a token: wrong types, huge numbers, deep nesting.</summary>
    ReplaceJsonValue,

    /// <summary>Repeats the first member of an object in front of it: a duplicate key.</summary>
    DuplicateMember,

    /// <summary>Splices in a run of bytes from another golden vector of the same target.</summary>
    Splice,
}

/// <summary>One mutation: its kind and two numbers whose meaning depends on the kind, plus inserted bytes.</summary>
public sealed record Mutation(MutationKind Kind, int A, int B, byte[] Data)
{
    public override string ToString() => Data.Length == 0 ? $"{Kind}({A},{B})" : $"{Kind}({A},{B},{Convert.ToHexString(Data)})";
}

/// <summary>A golden vector and the mutations applied to it, in order.</summary>
public sealed record MutatedInput(int SeedIndex, Mutation[] Mutations, byte[] Bytes)
{
    public override string ToString() =>
        $"seed {SeedIndex} + [{string.Join(", ", Mutations.Select(m => m.ToString()))}] = {Bytes.Length} bytes: {Convert.ToHexString(Bytes)}";
}

/// <summary>Generators that start from a target's golden vectors and mutate them (CsCheck shrinks toward fewer, smaller
/// mutations: the seed itself is the smallest case).</summary>
public static class Mutations
{
    private static readonly uint[] Boundaries16 = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF];

    private static readonly uint[] Boundaries32 = [0, 1, 9, 10, 11, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 0x2000, 0x2001, 0x0922, 0x0101];

    /// <summary>Tokens for JSON documents and the text formats (topics, SAS tokens, headers).</summary>
    private static readonly string[] Tokens =
    [
        "null", "true", "0", "-1", "1e309", "-0", "9223372036854775807", "9223372036854775808", "18446744073709551616", "1.5",
        "\"\"", "\"x\"", "\"\\u0000\"", "\"\\ud800\"", "\"\\uDC00\\uD800\"", "\"\u00e9\u4e2d\"", "[]", "{}", "[null]", "{\"\":null}",
        "[{}]", "{\"$version\":-1}", "\"$version\"", "\"assigned\"", "\"ASSIGNED\"", "\"assigning\"", "\"failed\"", "\"disabled\"",
        "\"..\"", "\"-.\"", "\"a..b\"", "\"h\\u0000.net\"", "\"AAEC\"", "\"====\"", "\"A===\"", "\"x509\"", "\"tpm\"", "\"symmetricKey\"",
        new string('[', 70) + new string(']', 70), new string('[', 1200), "{\"a\":" + new string('{', 80),
        "\"" + new string('a', 300) + "\"", "\"" + new string('9', 40) + "\"",
        "?", "&", "=", "/", "/?", "%", "%2", "%zz", "%00", "%2F", "%252F", "%C3%A9", "%FF", "$rid=", "$rid=1", "retry-after=",
        "retry-after=99999999999", "&$rid=2", "$version=", "$.mid=", "\n", "\r\n", " ", "\t", "\u0000", "\u00ff", "\ud83d\ude00",
        "sr=", "sig=", "se=", "skn=", "SharedAccessSignature ", "99999999999999999999", "-", "+1", "0x10",
    ];

    /// <summary>Inputs made from <paramref name="seeds"/> (a target's golden vectors): one of them, then 0 to 8 mutations.</summary>
    public static Gen<MutatedInput> For(IReadOnlyList<byte[]> seeds)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        if (seeds.Count == 0)
        {
            throw new ArgumentException("A target needs at least one golden vector.", nameof(seeds));
        }

        var mutation = Gen.Frequency(
            (5, Make(MutationKind.FlipBit)),
            (2, Make(MutationKind.Truncate)),
            (2, from a in Gen.Int[0, 1 << 16] from data in Gen.Byte.Array[1, 16] select new Mutation(MutationKind.Insert, a, 0, data)),
            (2, Make(MutationKind.Delete)),
            (3, Make(MutationKind.LengthField)),
            (2, Make(MutationKind.LengthField32)),
            (3, Make(MutationKind.InsertToken)),
            (3, Make(MutationKind.ReplaceJsonValue)),
            (1, Make(MutationKind.DuplicateMember)),
            (1, Make(MutationKind.Splice)));

        return from seedIndex in Gen.Int[0, seeds.Count - 1]
               from mutations in mutation.Array[0, 8]
               select new MutatedInput(seedIndex, mutations, Apply(seeds, seedIndex, mutations));
    }

    private static Gen<Mutation> Make(MutationKind kind) =>
        from a in Gen.Int[0, 1 << 16]
        from b in Gen.Int[0, 1 << 16]
        select new Mutation(kind, a, b, []);

    /// <summary>Applies the mutations to a copy of the golden vector.</summary>
    public static byte[] Apply(IReadOnlyList<byte[]> seeds, int seedIndex, IEnumerable<Mutation> mutations)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        ArgumentNullException.ThrowIfNull(mutations);
        var bytes = new List<byte>(seeds[seedIndex]);
        foreach (var m in mutations)
        {
            Apply(bytes, seeds, m);
        }

        return [.. bytes];
    }

    private static void Apply(List<byte> bytes, IReadOnlyList<byte[]> seeds, Mutation m)
    {
        var n = bytes.Count;
        switch (m.Kind)
        {
            case MutationKind.FlipBit when n > 0:
                bytes[m.A % n] ^= (byte)(1 << (m.B % 8));
                break;
            case MutationKind.Truncate when n > 0:
                bytes.RemoveRange(m.A % n, n - (m.A % n));
                break;
            case MutationKind.Insert:
                bytes.InsertRange(m.A % (n + 1), m.Data);
                break;
            case MutationKind.Delete when n > 0:
                var at = m.A % n;
                bytes.RemoveRange(at, Math.Min(1 + (m.B % 32), n - at));
                break;
            case MutationKind.LengthField when n >= 2:
            {
                var pos = m.A % (n - 1);

                // A boundary, or the bytes actually left after the field, give or take one.
                var left = (uint)(n - pos - 2);
                uint[] candidates = [.. Boundaries16, left, left + 1, left - 1];
                var value = candidates[m.B % candidates.Length];
                bytes[pos] = (byte)(value >> 8);
                bytes[pos + 1] = (byte)value;
                break;
            }

            case MutationKind.LengthField32 when n >= 4:
            {
                var pos = m.A % (n - 3);
                uint[] candidates = [.. Boundaries32, (uint)n, (uint)n + 1, (uint)n - 1];
                Span<byte> field = stackalloc byte[4];
                BinaryPrimitives.WriteUInt32BigEndian(field, candidates[m.B % candidates.Length]);
                for (var i = 0; i < 4; i++)
                {
                    bytes[pos + i] = field[i];
                }

                break;
            }

            case MutationKind.InsertToken:
                bytes.InsertRange(m.A % (n + 1), Encoding.UTF8.GetBytes(Tokens[m.B % Tokens.Length]));
                break;
            case MutationKind.ReplaceJsonValue:
                ReplaceJsonValue(bytes, m);
                break;
            case MutationKind.DuplicateMember:
                DuplicateMember(bytes, m.A);
                break;
            case MutationKind.Splice:
            {
                var other = seeds[m.B % seeds.Count];
                if (other.Length > 0)
                {
                    var from = m.B % other.Length;
                    var length = Math.Min(1 + (m.A % 64), other.Length - from);
                    bytes.InsertRange(m.A % (n + 1), other.AsSpan(from, length).ToArray());
                }

                break;
            }

            default:
                break;
        }
    }

    /// <summary>Finds the m.A-th value start (after ':' '[' or ','), cuts the value up to the next ',' '}' or ']', puts a token in.</summary>
    private static void ReplaceJsonValue(List<byte> bytes, Mutation m)
    {
        var starts = new List<int>();
        for (var i = 0; i < bytes.Count; i++)
        {
            if (bytes[i] is (byte)':' or (byte)'[' or (byte)',')
            {
                starts.Add(i + 1);
            }
        }

        if (starts.Count == 0)
        {
            return;
        }

        var start = starts[m.A % starts.Count];
        var end = start;
        var inString = false;
        while (end < bytes.Count && (inString || bytes[end] is not ((byte)',' or (byte)'}' or (byte)']')))
        {
            if (bytes[end] == (byte)'"' && (end == 0 || bytes[end - 1] != (byte)'\\'))
            {
                inString = !inString;
            }

            end++;
        }

        bytes.RemoveRange(start, end - start);
        bytes.InsertRange(start, Encoding.UTF8.GetBytes(Tokens[m.B % Tokens.Length]));
    }

    /// <summary>Picks the a-th '{' and repeats its first member ("k":v) right after it.</summary>
    private static void DuplicateMember(List<byte> bytes, int a)
    {
        var opens = new List<int>();
        for (var i = 0; i < bytes.Count; i++)
        {
            if (bytes[i] == (byte)'{')
            {
                opens.Add(i);
            }
        }

        if (opens.Count == 0)
        {
            return;
        }

        var open = opens[a % opens.Count];
        int depth = 0, end = open + 1;
        var inString = false;
        for (; end < bytes.Count; end++)
        {
            var c = bytes[end];
            if (c == (byte)'"' && bytes[end - 1] != (byte)'\\')
            {
                inString = !inString;
            }
            else if (!inString && c is (byte)'{' or (byte)'[')
            {
                depth++;
            }
            else if (!inString && c is (byte)'}' or (byte)']')
            {
                if (depth == 0)
                {
                    break;
                }

                depth--;
            }
            else if (!inString && depth == 0 && c == (byte)',')
            {
                break;
            }
        }

        var member = bytes.GetRange(open + 1, end - open - 1);
        if (member.Count > 0)
        {
            bytes.InsertRange(open + 1, [.. member, (byte)',']);
        }
    }
}

namespace Provisioning.Fuzzing;

/// <summary>One parser that reads bytes from outside, driven the way the product drives it.</summary>
/// <param name="Name">The name run.sh and the property tests use (also the corpus folder).</param>
/// <param name="Layer">Which side of the wire, for reports.</param>
/// <param name="Run">Feeds one input to the parser. It returns on success and throws what the parser throws.</param>
/// <param name="IsExpected">Whether an exception is the layer's typed answer to bad input (anything else is a defect).</param>
/// <param name="AllocationBase">Bytes any input may allocate (the parser's fixed cost: JSON metadata, crypto, buffers).</param>
/// <param name="AllocationPerByte">Bytes allowed per input byte on top of <paramref name="AllocationBase"/>.</param>
public sealed record FuzzTarget(
    string Name,
    string Layer,
    Action<byte[]> Run,
    Func<Exception, bool> IsExpected,
    long AllocationBase = 256 * 1024,
    int AllocationPerByte = 16)
{
    /// <summary>The most a single input of <paramref name="length"/> bytes may allocate.</summary>
    public long AllocationLimit(int length) => AllocationBase + ((long)AllocationPerByte * length);
}

/// <summary>An input broke a target's invariant: an unexpected exception type, or too much allocation.</summary>
public sealed class FuzzInvariantException : Exception
{
    /// <summary>Creates the exception.</summary>
    public FuzzInvariantException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    /// <summary>Creates the exception.</summary>
    public FuzzInvariantException()
    {
    }

    /// <summary>Creates the exception.</summary>
    public FuzzInvariantException(string message)
        : base(message)
    {
    }
}

/// <summary>Runs one input through a target and checks the invariant: success or the layer's typed exception, and allocation
/// no more than <see cref="FuzzTarget.AllocationLimit"/>. (Time is bounded by the caller: afl's -t, the tests' deadline.)</summary>
public static class FuzzHarness
{
    /// <summary>The outcome of one input that kept the invariant.</summary>
    /// <param name="Rejected">The typed exception the input was refused with, or null on success.</param>
    /// <param name="AllocatedBytes">Bytes the run allocated on this thread.</param>
    public readonly record struct Outcome(Exception? Rejected, long AllocatedBytes);

    /// <summary>Runs <paramref name="input"/>; throws <see cref="FuzzInvariantException"/> when the invariant breaks.</summary>
    public static Outcome Execute(FuzzTarget target, byte[] input)
    {
        ArgumentNullException.ThrowIfNull(target);
        ArgumentNullException.ThrowIfNull(input);
        Exception? rejected = null;
        var before = GC.GetAllocatedBytesForCurrentThread();
        try
        {
            target.Run(input);
        }
        catch (Exception ex) when (target.IsExpected(ex))
        {
            rejected = ex;
        }
        catch (Exception ex)
        {
            throw new FuzzInvariantException(
                $"{target.Name}: {ex.GetType().FullName} escaped for a {input.Length}-byte input: {ex.Message}", ex);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        var limit = target.AllocationLimit(input.Length);
        if (allocated > limit)
        {
            throw new FuzzInvariantException(
                $"{target.Name}: a {input.Length}-byte input allocated {allocated} bytes; the bound is {limit} "
                + $"({target.AllocationBase} + {target.AllocationPerByte} per input byte).");
        }

        return new Outcome(rejected, allocated);
    }
}

using Provisioning.Device.Tpm;

namespace Provisioning.Fuzzing.Targets;

/// <summary>The device's TPM 2.0 layer: what it reads from a TPM (responses) and from DPS (the activation blob, public areas).</summary>
internal static class TpmTargets
{
    /// <summary>The TPM layer's typed exceptions.</summary>
    public static bool IsTpmError(Exception ex) => ex is TpmException or TpmFormatException;

    public static IEnumerable<FuzzTarget> All()
    {
        // Input: one byte choosing the command, then the bytes the TPM "sends" (framed by the stream transport).
        yield return new FuzzTarget("tpm-response", "tpm", TpmResponse, IsTpmError);

        // Input: the decoded authenticationKey blob.
        yield return new FuzzTarget("activation-blob", "tpm", input => ActivationBlob.Parse(input), IsTpmError);

        // Input: a TPM2B_PUBLIC (size prefix included).
        yield return new FuzzTarget("tpm-public", "tpm", TpmPublicArea, IsTpmError);
    }

    private static void TpmPublicArea(byte[] input)
    {
        var parsed = TpmPublic.FromTpm2B(input);

        // A public area is hashed into a Name and sent on to DPS as received: what was read must write back identically.
        var written = parsed.ToTpm2B();
        if (!written.AsSpan().SequenceEqual(input))
        {
            throw new FuzzInvariantException("TpmPublic read a public area that does not write back byte for byte.");
        }

        parsed.ComputeName();
    }

    /// <summary>Every command of the DPS flow, each reading the fuzzed response through the real stream framing.</summary>
    private static void TpmResponse(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var selector = input[0];
        using var transport = new ScriptedStreamTransport(input.AsMemory(1));
        var tpm = new TpmCommands(transport, ImmediateTimeProvider.Instance);
        var key = new byte[32];
        ValueTask task = (selector % 17) switch
        {
            0 => Discard(tpm.ReadPublicAsync(TpmHandles.EndorsementKey)),
            1 => Discard(tpm.CreatePrimaryAsync(TpmHandles.Endorsement, default, TpmTemplates.EndorsementKey)),
            2 => Discard(tpm.ImportAsync(TpmHandles.StorageRootKey, default, new byte[16], new byte[48], new byte[64], new byte[256], TpmSymmetricDefinition.Aes128Cfb)),
            3 => Discard(tpm.LoadAsync(TpmHandles.StorageRootKey, default, new byte[64], new byte[48])),
            4 => Discard(tpm.StartAuthSessionAsync(TpmSessionType.Policy, TpmAlgorithm.Sha256)),
            5 => tpm.PolicySecretAsync(TpmHandles.Endorsement, default, 0x0300_0000),
            6 => Discard(tpm.ActivateCredentialAsync(0x8000_0000, default, TpmHandles.EndorsementKey, 0x0300_0000, new byte[48], new byte[256])),
            7 => Discard(tpm.HmacAsync(TpmHandles.IdentityKey, default, key, TpmAlgorithm.Sha256)),
            8 => Discard(tpm.HmacStartAsync(TpmHandles.IdentityKey, default, TpmAlgorithm.Sha256)),
            9 => tpm.SequenceUpdateAsync(0x8000_0001, key),
            10 => Discard(tpm.SequenceCompleteAsync(0x8000_0001, key)),
            11 => Discard(tpm.NvReadPublicAsync(TpmHandles.EndorsementKeyCertificate)),
            12 => Discard(tpm.NvReadAsync(TpmHandles.Owner, default, TpmHandles.EndorsementKeyCertificate, 1024)),
            13 => Discard(tpm.StartupAsync()),
            14 => Discard(tpm.GetRandomAsync(32)),
            15 => Discard(tpm.GetHandlesAsync(TpmHandles.PersistentType)),
            _ => tpm.EvictControlAsync(TpmHandles.Owner, default, 0x8000_0000, TpmHandles.StorageRootKey),
        };
        Sync.Complete(task);
    }

    private static async ValueTask Discard<T>(ValueTask<T> task) => await task.ConfigureAwait(false);

    /// <summary>The raw stream transport reading a scripted answer: the real framing (size peek, 8 KiB cap, exact length)
    /// runs; every command gets the same bytes, so a "retry" response code is answered again until the retries run out.</summary>
    private sealed class ScriptedStreamTransport(ReadOnlyMemory<byte> response)
        : StreamTpmTransport(new TpmTransportOptions(), "fuzz"), IDisposable
    {
        public void Dispose()
        {
        }

        protected override ValueTask<Stream> ConnectAsync(CancellationToken cancellationToken)
            => ValueTask.FromResult<Stream>(new ScriptedStream(response));
    }

    /// <summary>Writes vanish; reads replay the script from its start after each write (one response per command).</summary>
    private sealed class ScriptedStream(ReadOnlyMemory<byte> script) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = Math.Min(buffer.Length, script.Length - _position);
            script.Span.Slice(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            => ValueTask.FromResult(Read(buffer.Span));

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => _position = 0;

        public override void Write(ReadOnlySpan<byte> buffer) => _position = 0;

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            _position = 0;
            return ValueTask.CompletedTask;
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}

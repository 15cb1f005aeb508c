using System.Buffers.Binary;

namespace Provisioning.Device.Tpm.Tests;

/// <summary>The Windows TBS transport above its seam: a fake TBS (backed by the software TPM where a TPM is needed) stands in
/// for tbs.dll, which this Linux machine does not have.</summary>
public sealed class TbsTransportTests
{
    private static readonly byte[] GetRandom = Convert.FromHexString("80010000000C0000017B0008");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task TpmIdentity_OverTbs_RunsTheWholeFlow_WithOneContext_ClosedOnDispose()
    {
        using var software = new SoftwareTpm(null);
        var tbs = new FakeTbs((command, response) => software.Execute(command));
        byte[] ek;
        string id;
        await using (var transport = new TbsTpmTransport(tbs, new TpmTransportOptions()))
        await using (var identity = new TpmIdentity(transport, ownsTransport: false))
        {
            ek = await identity.GetEndorsementKeyAsync(Ct);
            id = await identity.GetRegistrationIdAsync(Ct);
        }

        Assert.StartsWith("AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S", Convert.ToBase64String(ek), StringComparison.Ordinal);
        Assert.Equal(52, id.Length);
        Assert.Equal(1, tbs.Created);
        Assert.Equal([FakeTbs.Context], tbs.Closed);
        Assert.True(tbs.Submitted >= 9, $"{tbs.Submitted} commands");
    }

    [Theory]
    [InlineData(TbsTpmTransport.TpmNotFound, "firmware", false)]
    [InlineData(TbsTpmTransport.ServiceNotRunning, "sc start TBS", true)]
    [InlineData(TbsTpmTransport.TooManyContexts, "TBS_E_TOO_MANY_TBS_CONTEXTS", true)]
    [InlineData(TbsTpmTransport.AccessDenied, "run elevated", false)]
    [InlineData(0x80284FFFu, "unknown TBS result", false)]
    public async Task ContextCreateFailure_SaysWhatToDo(uint result, string advice, bool busy)
    {
        var tbs = new FakeTbs((_, _) => throw new InvalidOperationException("no submit expected")) { CreateResult = result };
        await using var transport = new TbsTpmTransport(tbs, new TpmTransportOptions());
        var error = await Assert.ThrowsAsync<TpmException>(async () => await transport.ExecuteAsync(GetRandom, Ct));
        Assert.Contains(advice, error.Message, StringComparison.Ordinal);
        Assert.Contains($"0x{result:X8}", error.Message, StringComparison.Ordinal);
        Assert.Equal(busy, error.IsBusy);
        Assert.Equal(0, tbs.Submitted);
    }

    [Fact]
    public async Task SubmitFailure_NamesTheCommand_AndAnInvalidContextIsReplacedByTheNextCommand()
    {
        var answers = new Queue<uint>([TbsTpmTransport.InvalidContext, TbsTpmTransport.Success]);
        var tbs = new FakeTbs((_, _) => Convert.FromHexString("80010000000C00000000" + "0000")) { SubmitResult = () => answers.Dequeue() };
        await using var transport = new TbsTpmTransport(tbs, new TpmTransportOptions());
        var error = await Assert.ThrowsAsync<TpmException>(async () => await transport.ExecuteAsync(GetRandom, Ct));
        Assert.Contains("TPM2_GetRandom", error.Message, StringComparison.Ordinal);
        Assert.Contains("TBS_E_INVALID_CONTEXT", error.Message, StringComparison.Ordinal);
        Assert.Single(tbs.Closed);

        Assert.Equal(12, (await transport.ExecuteAsync(GetRandom, Ct)).Length);
        Assert.Equal(2, tbs.Created);
    }

    [Theory]
    [InlineData("80010000000C000000", "TBS returned a 9-byte response")]
    [InlineData("80010000002000000000", "10 bytes for a 32-byte response")]
    [InlineData("8001FFFFFFFF00000000", "claims")]
    public async Task MalformedResponse_IsATpmFormatException(string hex, string expected)
    {
        var tbs = new FakeTbs((_, _) => Convert.FromHexString(hex));
        await using var transport = new TbsTpmTransport(tbs, new TpmTransportOptions());
        var error = await Assert.ThrowsAsync<TpmFormatException>(async () => await transport.ExecuteAsync(GetRandom, Ct));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATpmThatDoesNotAnswer_IsCancelledThroughTbs_ReportedAsNotAnswering_AndTheContextIsReplaced()
    {
        using var release = new SemaphoreSlim(0);
        var hang = true;
        var tbs = new FakeTbs((_, _) =>
        {
            if (hang)
            {
                release.Wait(TimeSpan.FromMinutes(1)); // the fake's blocked Submit; Cancel releases it
            }

            return Convert.FromHexString("80010000000C00000000" + "0000");
        });
        tbs.OnCancel = () => release.Release();
        await using var transport = new TbsTpmTransport(tbs, new TpmTransportOptions { Timeout = TimeSpan.FromMilliseconds(200) });

        var error = await Assert.ThrowsAsync<TimeoutException>(async () => await transport.ExecuteAsync(GetRandom, Ct));
        Assert.Contains("did not answer TPM2_GetRandom", error.Message, StringComparison.Ordinal);
        Assert.Contains("not answering", error.Message, StringComparison.Ordinal);
        Assert.Equal(1, tbs.Cancelled);
        Assert.Single(tbs.Closed);

        hang = false;
        Assert.Equal(12, (await transport.ExecuteAsync(GetRandom, Ct)).Length);
        Assert.Equal(2, tbs.Created);
    }

    [Fact]
    public async Task KeyGeneration_GetsItsLongerDeadline()
    {
        // CreatePrimary waits past the quick-command deadline and still succeeds.
        var createPrimary = Convert.FromHexString("80020000000C00000131" + "0000");
        using var gate = new SemaphoreSlim(0);
        var tbs = new FakeTbs((command, _) =>
        {
            if (BinaryPrimitives.ReadUInt32BigEndian(command.AsSpan(6)) == 0x131)
            {
                gate.Wait(TimeSpan.FromSeconds(30));
            }

            return Convert.FromHexString("80010000000A00000000");
        });
        await using var transport = new TbsTpmTransport(tbs, new TpmTransportOptions { Timeout = TimeSpan.FromMilliseconds(100), KeyGenerationTimeout = TimeSpan.FromMinutes(1) });
        var pending = transport.ExecuteAsync(createPrimary, Ct).AsTask();
        await Task.Delay(400, Ct); // four quick-command deadlines
        Assert.False(pending.IsCompleted);
        gate.Release();
        Assert.Equal(10, (await pending).Length);
        Assert.Equal(0, tbs.Cancelled);
    }

    [Fact]
    public void Spec_DeviceWithAPath_OnWindows_IsRefused_ElsewhereIsTheKernelDevice()
    {
        if (OperatingSystem.IsWindows())
        {
            Assert.Throws<ArgumentException>(() => TpmTransport.Open("device:/dev/tpm0"));
        }
        else
        {
            Assert.IsNotType<TbsTpmTransport>(TpmTransport.Open("device"));
        }
    }

    /// <summary>A TBS that answers through a function, counting what it was asked.</summary>
    private sealed class FakeTbs(Func<byte[], byte[], byte[]> answer) : ITbs
    {
        public const nint Context = 0x1234;

        public uint CreateResult { get; init; }

        public Func<uint> SubmitResult { get; init; } = () => 0;

        public Action? OnCancel { get; set; }

        public int Created { get; private set; }

        public int Submitted { get; private set; }

        public int Cancelled { get; private set; }

        public List<nint> Closed { get; } = [];

        public uint CreateContext(out nint context)
        {
            Created++;
            context = CreateResult == 0 ? Context + Created - 1 : 0;
            return CreateResult;
        }

        public uint Submit(nint context, byte[] command, byte[] response, ref uint responseLength)
        {
            Submitted++;
            var result = SubmitResult();
            if (result != 0)
            {
                return result;
            }

            var bytes = answer(command, response);
            if (bytes.Length > responseLength)
            {
                return TbsTpmTransport.InsufficientBuffer;
            }

            bytes.CopyTo(response, 0);
            responseLength = (uint)bytes.Length;
            return 0;
        }

        public uint Cancel(nint context)
        {
            Cancelled++;
            OnCancel?.Invoke();
            return 0;
        }

        public uint Close(nint context)
        {
            Closed.Add(context);
            return 0;
        }
    }
}

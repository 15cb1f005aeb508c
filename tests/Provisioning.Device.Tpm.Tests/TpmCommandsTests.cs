namespace Provisioning.Device.Tpm.Tests;

/// <summary>The command layer against a scripted in-memory TPM: retries, malformed answers, error codes.</summary>
public sealed class TpmCommandsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Command_WhenTheTpmSaysRetry_IsSentAgain()
    {
        var tpm = new ScriptedTpm("80010000000A00000922", "8001000000100000000000040A0B0C0D");
        var random = await new TpmCommands(tpm).GetRandomAsync(4, Ct);
        Assert.Equal("0A0B0C0D", Convert.ToHexString(random));
        Assert.Equal(2, tpm.Commands.Count);
        Assert.Equal(tpm.Commands[0], tpm.Commands[1]);
    }

    [Fact]
    public async Task Command_WhenTheTpmKeepsSayingRetry_GivesUpWithTheCode()
    {
        var tpm = new ScriptedTpm(Enumerable.Repeat("80010000000A00000922", 10).ToArray());
        var error = await Assert.ThrowsAsync<TpmException>(async () => await new TpmCommands(tpm).GetRandomAsync(4, Ct));
        Assert.Equal(TpmResponseCode.Retry, error.ResponseCode);
        Assert.Equal(6, tpm.Commands.Count);
    }

    [Fact]
    public async Task Command_ErrorCode_BecomesTpmExceptionNamingTheCommand()
    {
        var tpm = new ScriptedTpm("80010000000A0000098E");
        var error = await Assert.ThrowsAsync<TpmException>(async () => await new TpmCommands(tpm).HmacAsync(0x81000100, default, new byte[4], TpmAlgorithm.Sha256, Ct));
        Assert.Equal(0x98Eu, error.ResponseCode);
        Assert.Equal(TpmCommandCode.Hmac, error.Command);
        Assert.StartsWith("TPM2_Hmac failed: TPM_RC_AUTH_FAIL on session 1", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("digest size beyond the response", "8001000000100000000000400A0B0C0D")]
    [InlineData("trailing byte after the digest", "8001000000110000000000040A0B0C0D0E")]
    [InlineData("header size disagrees with the bytes", "8001000000200000000000040A0B0C0D")]
    public async Task Command_MalformedResponse_ThrowsTpmFormatException(string name, string response)
    {
        var tpm = new ScriptedTpm(response);
        var error = await Assert.ThrowsAsync<TpmFormatException>(async () => await new TpmCommands(tpm).GetRandomAsync(4, Ct));
        Assert.False(string.IsNullOrEmpty(error.Message), name);
    }

    [Fact]
    public async Task Hmac_IsMarshalledAsPart3Says()
    {
        var tpm = new ScriptedTpm("8002" + "00000035" + "00000000" + "00000022" + "0020" + new string('A', 64) + "0000" + "01" + "0000");
        await new TpmCommands(tpm).HmacAsync(0x81000100, default, new byte[] { 1, 2, 3 }, TpmAlgorithm.Sha256, Ct);
        Assert.Equal(
            "8002" + "00000022" + "00000155" + "81000100" + "00000009" + "40000009" + "0000" + "01" + "0000" + "0003010203" + "000B",
            Convert.ToHexString(tpm.Commands[0]));
    }

    [Fact]
    public async Task Startup_WhenAlreadyStarted_ReturnsFalse()
        => Assert.False(await new TpmCommands(new ScriptedTpm("80010000000A00000100")).StartupAsync(Ct));

    /// <summary>A fake TPM that answers each command with the next scripted response.</summary>
    private sealed class ScriptedTpm(params string[] responses) : TpmTransport
    {
        private int _next;

        public List<byte[]> Commands { get; } = [];

        public override ValueTask<byte[]> ExecuteAsync(ReadOnlyMemory<byte> command, CancellationToken cancellationToken = default)
        {
            Commands.Add(command.ToArray());
            return ValueTask.FromResult(Convert.FromHexString(responses[_next++]));
        }
    }
}

namespace Provisioning.Device.Tpm.Tests;

/// <summary>Field conditions against a scripted TPM, with hex vectors: foreign objects at our handles, full object memory,
/// refused hierarchy passwords, public areas too short to be one.</summary>
public sealed class FieldConditionUnitTests
{
    /// <summary>The TCG default ECC NIST P-256 EK's TPM2B_PUBLIC (EK profile template L-2) with a zero point: type ECC, nameAlg
    /// SHA-256, attributes 0x000300B2, the EK policy, AES-128-CFB, no scheme, curve 0x0003, no KDF.</summary>
    private const string EccEkPublic = "007A" + "0023" + "000B" + "000300B2"
        + "0020" + "837197674484B3F81A90CC8D46A5D724FD52D76E06520B64F2A1DA1B331469AA"
        + "000600800043" + "0010" + "0003" + "0010"
        + "0020" + "0000000000000000000000000000000000000000000000000000000000000000"
        + "0020" + "0000000000000000000000000000000000000000000000000000000000000000";

    private const string Name = "0022000B" + "1111111111111111111111111111111111111111111111111111111111111111";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public void Describe_NamesTypeCurveOrSizeAndAttributes()
    {
        Assert.Equal("an ECC key on curve NIST P-256 (type 0x0023, attributes 0x000300B2)", PersistedObject.Describe(Convert.FromHexString(EccEkPublic)));
        Assert.Equal("an RSA-2048 key (type 0x0001, attributes 0x000300B2)", PersistedObject.Describe(TpmTemplates.EndorsementKey.ToTpm2B()));
        Assert.Equal("an object of type 0x0099 (type 0x0099, attributes 0x00000000)", PersistedObject.Describe(Convert.FromHexString("000A" + "0099000B000000000000")));
        Assert.Equal("an ECC key on curve 0x00AB (type 0x0023, attributes 0x00000000)", PersistedObject.Describe(Convert.FromHexString("0010" + "0023000B00000000" + "0000" + "0010" + "0010" + "00AB")));
        Assert.Equal("an object whose public area does not parse (type 0x0023, attributes 0x00000000)", PersistedObject.Describe(Convert.FromHexString("000A" + "0023000B000000000000")));
    }

    [Fact]
    public async Task EnsureKeys_WithAnEccEkAtTheEkHandle_ReportsItAsForeign_AndSendsNothingThatChangesTheTpm()
    {
        var body = EccEkPublic + Name + Name;
        var response = "8001" + (10 + (body.Length / 2)).ToString("X8", System.Globalization.CultureInfo.InvariantCulture) + "00000000" + body;
        var tpm = new ScriptedTpm(response);
        await using var identity = new TpmIdentity(tpm);

        var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.EnsureKeysAsync(Ct));

        Assert.Equal(
            "The key persisted at 0x81010001 is not the standard endorsement key: it is an ECC key on curve NIST P-256 (type 0x0023, attributes "
            + "0x000300B2). DPS TPM attestation needs the RSA-2048 endorsement key (the TCG default EK template). It was left in place. Choose "
            + "another free persistent handle with TpmIdentityOptions.EndorsementKeyHandle (e.g. 0x81010002; tpm2_getcap handles-persistent "
            + "lists the used ones), where the key will be created, or evict this object if it is yours (tpm2_evictcontrol -C o -c 0x81010001) "
            + "or clear the TPM.",
            error.Message);
        Assert.Single(tpm.Commands); // ReadPublic: no Startup (the TPM is started), no CreatePrimary, no EvictControl
    }

    [Fact]
    public async Task ReadPublic_TooShortForATpmtPublic_IsMalformed()
    {
        var tpm = new ScriptedTpm("8001" + "00000014" + "00000000" + "0004" + "00230000" + "0000" + "0000");
        var error = await Assert.ThrowsAsync<TpmFormatException>(async () => await new TpmCommands(tpm).ReadPublicRawAsync(TpmHandles.EndorsementKey, Ct));
        Assert.Contains("4-byte TPM2B_PUBLIC", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("00000902", "transient objects", "tpm2_flushcontext -t")]
    [InlineData("00000903", "sessions", "tpm2_flushcontext -s")]
    public async Task OutOfObjectOrSessionMemory_SaysWhoLeftThemAndWhatToDo(string code, string what, string flush)
    {
        var tpm = new ScriptedTpm("80010000000A" + code);
        var error = await Assert.ThrowsAsync<TpmException>(async () => await new TpmCommands(tpm).GetRandomAsync(4, Ct));
        Assert.Equal(TpmCommandCode.GetRandom, error.Command);
        Assert.StartsWith("TPM2_GetRandom failed: TPM_RC_", error.Message, StringComparison.Ordinal);
        Assert.Contains($"no room left for {what}", error.Message, StringComparison.Ordinal);
        Assert.Contains("left loaded by another program", error.Message, StringComparison.Ordinal);
        Assert.Contains("/dev/tpmrm0", error.Message, StringComparison.Ordinal);
        Assert.Contains(flush, error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("000009A2")] // TPM_RC_BAD_AUTH on session 1
    [InlineData("0000098E")] // TPM_RC_AUTH_FAIL on session 1
    public async Task OwnerRefusal_DuringEvictControl_NamesTheOwnerHierarchyAndFlag_NeverThePassword(string code)
    {
        // ReadPublic EK: absent; CreatePrimary(E): a handle; EvictControl: refused; FlushContext.
        var createPrimary = "8002" + "00000000" + "00000000" + "80000000" + "00000000"; // size patched below
        var tpm = new ScriptedTpm(
            "80010000000A0000018B",
            Patch(createPrimary + Convert.ToHexString(TpmTemplates.EndorsementKey.ToTpm2B())),
            "80010000000A" + code,
            "80010000000A00000000");
        await using var identity = new TpmIdentity(tpm, new TpmIdentityOptions { OwnerAuth = "hunter2-secret"u8.ToArray() });

        var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.EnsureKeysAsync(Ct));

        Assert.StartsWith("The owner hierarchy refused the authorization (TPM2_EvictControl failed: ", error.Message, StringComparison.Ordinal);
        Assert.Contains("The owner password given is not the owner hierarchy's: give it with --owner-auth (TpmIdentityOptions.OwnerAuth).", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", error.Message, StringComparison.Ordinal);
        Assert.Equal(Convert.ToUInt32(code, 16), error.ResponseCode);
        Assert.Equal(TpmCommandCode.FlushContext, (TpmCommandCode)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(tpm.Commands[^1].AsSpan(6)));
    }

    /// <summary>Writes the message size into a response given with a zero size; the parameterSize follows the handle.</summary>
    private static string Patch(string response)
    {
        var bytes = Convert.FromHexString(response);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(2), (uint)bytes.Length);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(bytes.AsSpan(14), (uint)(bytes.Length - 18));
        return Convert.ToHexString(bytes);
    }

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

namespace Provisioning.Device.Tpm.Tests.Software;

/// <summary>The software TPM answering raw commands: response codes, limits and authorization rules of a real TPM.</summary>
public sealed class SoftwareTpmCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static uint Code(byte[] response) => System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(response.AsSpan(6));

    private static async Task<uint> CodeOfAsync(Func<Task> action)
    {
        try
        {
            await action();
            return 0;
        }
        catch (TpmException e)
        {
            return e.ResponseCode;
        }
    }

    private static byte[] Command(TpmCommandCode code, params uint[] words)
    {
        using var writer = new TpmWriter();
        writer.BeginMessage(TpmStructureTag.NoSessions, (uint)code);
        foreach (var word in words)
        {
            writer.WriteUInt32(word);
        }

        writer.EndMessage();
        return writer.ToArray();
    }

    [Theory]
    [InlineData("header only, no startup", "80010000000a00000144", 0x1DAu)] // Startup without its parameter: TPM_RC_INSUFFICIENT on parameter 1
    [InlineData("size field disagrees", "80010000000b0000017b0020", 0x142u)]
    [InlineData("bad tag", "80030000000c0000017b0020", 0x01Eu)]
    [InlineData("shorter than a header", "800100", 0x142u)]
    public async Task MalformedCommands_GetTheReferenceCodes(string name, string hex, uint expected)
    {
        _ = name;
        await using var transport = new SoftwareTpmTransport();
        Assert.Equal(expected, Code(await transport.ExecuteAsync(Convert.FromHexString(hex), Ct)));
    }

    [Fact]
    public async Task CommandsBeforeStartup_AreTpmRcInitialize_AndStartupTwiceToo()
    {
        await using var transport = new SoftwareTpmTransport();
        var tpm = new TpmCommands(transport);
        Assert.Equal(TpmResponseCode.Initialize, await CodeOfAsync(() => tpm.GetRandomAsync(8, Ct).AsTask()));
        Assert.True(await tpm.StartupAsync(Ct));
        Assert.False(await tpm.StartupAsync(Ct)); // TPM_RC_INITIALIZE: already started
        Assert.Equal(8, (await tpm.GetRandomAsync(8, Ct)).Length);
        Assert.Equal(64, (await tpm.GetRandomAsync(100, Ct)).Length);
    }

    [Theory]
    [InlineData("TPM2_Shutdown", TpmCommandCode.Shutdown)]
    [InlineData("TPM2_Duplicate", TpmCommandCode.Duplicate)]
    [InlineData("TPM2_MakeCredential", TpmCommandCode.MakeCredential)]
    [InlineData("TPM2_NV_DefineSpace", TpmCommandCode.NvDefineSpace)]
    [InlineData("vendor 0x20000000", (TpmCommandCode)0x2000_0000)]
    public async Task CommandsOutsideTheSubset_AreTpmRcCommandCode(string name, TpmCommandCode code)
    {
        _ = name;
        await using var transport = new SoftwareTpmTransport();
        await new TpmCommands(transport).StartupAsync(Ct);
        Assert.Equal(TpmResponseCode.CommandCode, Code(await transport.ExecuteAsync(Command(code), Ct)));
    }

    [Fact]
    public async Task EndorsementKey_OnlyThroughASatisfiedPolicySecretSession()
    {
        await using var transport = new SoftwareTpmTransport();
        await using (var identity = new TpmIdentity(transport, ownsTransport: false))
        {
            await identity.EnsureKeysAsync(Ct);
        }

        var tpm = new TpmCommands(transport);
        var session = await tpm.StartAuthSessionAsync(TpmSessionType.Policy, TpmAlgorithm.Sha256, Ct);
        Assert.Equal(0xA9Du, await CodeOfAsync(() => tpm.ActivateCredentialAsync(
            TpmHandles.StorageRootKey, default, TpmHandles.EndorsementKey, session, new byte[54], new byte[256], Ct).AsTask())); // TPM_RC_POLICY_FAIL, session 2

        // PolicySecret(owner) gives another digest than the EK policy's PolicySecret(endorsement).
        await tpm.PolicySecretAsync(TpmHandles.Owner, default, session, Ct);
        Assert.Equal(0xA9Du, await CodeOfAsync(() => tpm.ActivateCredentialAsync(
            TpmHandles.StorageRootKey, default, TpmHandles.EndorsementKey, session, new byte[54], new byte[256], Ct).AsTask()));
        await tpm.FlushContextAsync(session, Ct);

        // With the right policy the command reaches its parameters: all-zero secret → the seed does not decode.
        session = await tpm.StartAuthSessionAsync(TpmSessionType.Policy, TpmAlgorithm.Sha256, Ct);
        await tpm.PolicySecretAsync(TpmHandles.Endorsement, default, session, Ct);
        Assert.Equal(0x2C4u, await CodeOfAsync(() => tpm.ActivateCredentialAsync(
            TpmHandles.StorageRootKey, default, TpmHandles.EndorsementKey, session, new byte[54], new byte[256], Ct).AsTask()));
        await tpm.FlushContextAsync(session, Ct);

        // A password for the EK (userWithAuth clear) is never enough.
        Assert.Equal(0x12Fu, await CodeOfAsync(() => tpm.HmacAsync(TpmHandles.EndorsementKey, default, new byte[1], TpmAlgorithm.Sha256, Ct).AsTask()));
    }

    [Fact]
    public async Task WrongPassword_IsBadAuthForNoDaKeys_AndAuthFailForHierarchies()
    {
        await using var transport = new SoftwareTpmTransport();
        var tpm = new TpmCommands(transport);
        await tpm.StartupAsync(Ct);
        Assert.Equal(0x98Eu, await CodeOfAsync(() => tpm.CreatePrimaryAsync(TpmHandles.Owner, "secret"u8.ToArray(), TpmTemplates.StorageRootKey, Ct).AsTask()));
        var (srk, _) = await tpm.CreatePrimaryAsync(TpmHandles.Owner, default, TpmTemplates.StorageRootKey, Ct);
        Assert.Equal(0x9A2u, await CodeOfAsync(() => tpm.LoadAsync(srk, "secret"u8.ToArray(), new byte[10], new byte[10], Ct).AsTask()));
    }

    [Fact]
    public async Task Limits_ThreeSessions_ThreeObjects_HandlesListedByCapability()
    {
        await using var transport = new SoftwareTpmTransport();
        var tpm = new TpmCommands(transport);
        await tpm.StartupAsync(Ct);
        var sessions = new List<uint>();
        for (var i = 0; i < 3; i++)
        {
            sessions.Add(await tpm.StartAuthSessionAsync(TpmSessionType.Policy, TpmAlgorithm.Sha256, Ct));
        }

        Assert.Equal(0x903u, await CodeOfAsync(() => tpm.StartAuthSessionAsync(TpmSessionType.Policy, TpmAlgorithm.Sha256, Ct).AsTask()));
        Assert.Equal(sessions, await tpm.GetHandlesAsync(TpmHandles.PolicySessionType, Ct));

        var objects = new List<uint>();
        for (var i = 0; i < 3; i++)
        {
            objects.Add((await tpm.CreatePrimaryAsync(TpmHandles.Owner, default, TpmTemplates.StorageRootKey, Ct)).Handle);
        }

        Assert.Equal(0x902u, await CodeOfAsync(() => tpm.CreatePrimaryAsync(TpmHandles.Owner, default, TpmTemplates.StorageRootKey, Ct).AsTask()));
        Assert.Equal(objects, await tpm.GetHandlesAsync(TpmHandles.TransientType, Ct));
        await tpm.EvictControlAsync(TpmHandles.Owner, default, objects[0], TpmHandles.StorageRootKey, Ct);
        Assert.Equal(0x14Cu, await CodeOfAsync(() => tpm.EvictControlAsync(TpmHandles.Owner, default, objects[1], TpmHandles.StorageRootKey, Ct).AsTask())); // NV_DEFINED
        Assert.Equal([TpmHandles.StorageRootKey], await tpm.GetHandlesAsync(TpmHandles.PersistentType, Ct));
        foreach (var handle in objects.Concat(sessions))
        {
            await tpm.FlushContextAsync(handle, Ct);
        }

        Assert.Empty(await tpm.GetHandlesAsync(TpmHandles.TransientType, Ct));
        Assert.Equal(0x1CBu, await CodeOfAsync(() => tpm.FlushContextAsync(objects[0], Ct).AsTask())); // TPM_RC_HANDLE, parameter 1
        Assert.Equal(0x18Bu, await CodeOfAsync(() => tpm.ReadPublicAsync(TpmHandles.IdentityKey, Ct).AsTask())); // nothing persisted there
        Assert.Equal(0x910u, await CodeOfAsync(() => tpm.ReadPublicAsync(objects[0], Ct).AsTask())); // transient, not loaded
    }

    [Fact]
    public async Task SameTemplateTwice_GivesTheSameKey_OtherHierarchyAnother()
    {
        await using var transport = new SoftwareTpmTransport();
        var tpm = new TpmCommands(transport);
        await tpm.StartupAsync(Ct);
        var (a, first) = await tpm.CreatePrimaryAsync(TpmHandles.Owner, default, TpmTemplates.StorageRootKey, Ct);
        var (b, second) = await tpm.CreatePrimaryAsync(TpmHandles.Owner, default, TpmTemplates.StorageRootKey, Ct);
        var (c, endorsement) = await tpm.CreatePrimaryAsync(TpmHandles.Endorsement, default, TpmTemplates.StorageRootKey, Ct);
        Assert.Equal(first, second);
        Assert.NotEqual(first, endorsement);
        Assert.Equal(first, (await tpm.ReadPublicAsync(a, Ct)).Tpm2BPublic);
        Assert.NotEqual(a, b);
        await tpm.FlushContextAsync(c, Ct);
    }
}

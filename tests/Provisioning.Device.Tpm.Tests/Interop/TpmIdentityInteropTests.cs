using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

using Provisioning.Testing;

namespace Provisioning.Device.Tpm.Tests.Interop;

/// <summary>EK and SRK handling checked against tpm2-tools on swtpm (dps-protocol.md §2.1, §2.2, §2.5).</summary>
[Trait("Category", "Interop")]
public sealed class TpmIdentityInteropTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task EnsureKeys_PersistsEkAndSrk_ByteIdenticalToTpm2Tools()
    {
        Swtpm.RequireOrSkip(tools: true);
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        byte[] ek, srk;
        string registrationId;
        await using (var identity = TpmIdentity.Open(tpm.TransportSpec))
        {
            ek = await identity.GetEndorsementKeyAsync(Ct);
            srk = await identity.GetStorageRootKeyAsync(Ct);
            registrationId = await identity.GetRegistrationIdAsync(Ct);
        }

        var dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            async Task<byte[]> Tool(string file, string tool, params string[] args)
            {
                (await tpm.ToolAsync(tool, args, workingDirectory: dir, cancellationToken: Ct)).EnsureSuccess(tool);
                return await File.ReadAllBytesAsync(Path.Combine(dir, file), Ct);
            }

            Assert.Equal(Convert.ToHexString(ek), Convert.ToHexString(await Tool("ek.pub", "tpm2_readpublic", "-c", "0x81010001", "-o", "ek.pub")));
            Assert.Equal(Convert.ToHexString(srk), Convert.ToHexString(await Tool("srk.pub", "tpm2_readpublic", "-c", "0x81000001", "-o", "srk.pub")));

            // Primary keys derive from the hierarchy seed and the template: tpm2-tools' own EK and SRK must come out the same.
            var toolsEk = await Tool("ek2.pub", "tpm2_createek", "-G", "rsa", "-c", "ek2.ctx", "-u", "ek2.pub");
            await tpm.ToolAsync("tpm2_flushcontext", ["-t"], workingDirectory: dir, cancellationToken: Ct);
            Assert.Equal(Convert.ToHexString(ek), Convert.ToHexString(toolsEk));
            var created = await tpm.ToolAsync(
                "tpm2_createprimary",
                ["-C", "o", "-g", "sha256", "-G", "rsa2048:null:aes128cfb", "-a", "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt", "-u", "-", "-c", "srk2.ctx"],
                standardInput: new byte[256],
                workingDirectory: dir,
                cancellationToken: Ct);
            created.EnsureSuccess("tpm2_createprimary");
            var toolsSrk = await Tool("srk2.pub", "tpm2_readpublic", "-c", "srk2.ctx", "-o", "srk2.pub");
            await tpm.ToolAsync("tpm2_flushcontext", ["-t"], workingDirectory: dir, cancellationToken: Ct);
            Assert.Equal(Convert.ToHexString(srk), Convert.ToHexString(toolsSrk));

            Assert.Equal(Base32Lower(SHA256.HashData(toolsEk)), registrationId);
            Assert.Equal(52, registrationId.Length);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task EnsureKeys_AfterSwtpmRestart_KeepsKeys_AndTheSecondBootSendsNoCreatePrimary()
    {
        Swtpm.RequireOrSkip();
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        byte[] firstEk, firstSrk;
        await using (var recorder = new RecordingTpmTransport(TpmTransport.Open(tpm.TransportSpec)))
        await using (var identity = new TpmIdentity(recorder, ownsTransport: false))
        {
            firstEk = await identity.GetEndorsementKeyAsync(Ct);
            firstSrk = await identity.GetStorageRootKeyAsync(Ct);
            Assert.Equal(2, recorder.Exchanges.Count(e => e.CommandCode == TpmCommandCode.CreatePrimary));
        }

        await tpm.RestartAsync(Ct);

        await using (var recorder = new RecordingTpmTransport(TpmTransport.Open(tpm.TransportSpec)))
        await using (var identity = new TpmIdentity(recorder, ownsTransport: false))
        {
            Assert.Equal(firstEk, await identity.GetEndorsementKeyAsync(Ct));
            Assert.Equal(firstSrk, await identity.GetStorageRootKeyAsync(Ct));
            Assert.DoesNotContain(recorder.Exchanges, e => e.CommandCode is TpmCommandCode.CreatePrimary or TpmCommandCode.EvictControl);
            Assert.Contains(recorder.Exchanges, e => e.CommandCode == TpmCommandCode.ReadPublic);
        }

        await using var transport = TpmTransport.Open(tpm.TransportSpec);
        var commands = new TpmCommands(transport);
        Assert.Equal([TpmHandles.StorageRootKey, TpmHandles.EndorsementKey], await commands.GetHandlesAsync(TpmHandles.PersistentType, Ct));
        Assert.Empty(await commands.GetHandlesAsync(TpmHandles.TransientType, Ct));
    }

    [Fact]
    public async Task EnsureKeys_OnAManufacturedTpm_ReusesTheEkFromSwtpmSetup_AndReadsItsCertificate()
    {
        Swtpm.RequireOrSkip(tools: true);
        await using var tpm = await SwtpmInstance.StartNewAsync(manufacture: true, cancellationToken: Ct);
        var dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            (await tpm.ToolAsync("tpm2_readpublic", ["-c", "0x81010001", "-o", "ek.pub"], workingDirectory: dir, cancellationToken: Ct)).EnsureSuccess("tpm2_readpublic");
            var manufactured = await File.ReadAllBytesAsync(Path.Combine(dir, "ek.pub"), Ct);

            await using var recorder = new RecordingTpmTransport(TpmTransport.Open(tpm.TransportSpec));
            await using var identity = new TpmIdentity(recorder, ownsTransport: false);
            Assert.Equal(Convert.ToHexString(manufactured), Convert.ToHexString(await identity.GetEndorsementKeyAsync(Ct)));

            // Only the SRK (which swtpm_setup does not make) is created; the EK stays as manufactured.
            var created = recorder.Exchanges.Where(e => e.CommandCode == TpmCommandCode.CreatePrimary).ToList();
            Assert.Single(created);
            Assert.Equal(TpmHandles.Owner, System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(created[0].Command.AsSpan(10)));

            var der = await identity.GetEndorsementKeyCertificateAsync(Ct);
            Assert.NotNull(der);
            using var certificate = X509CertificateLoader.LoadCertificate(der);
            using var rsa = certificate.GetRSAPublicKey();
            var ek = TpmPublic.FromTpm2B(manufactured);
            Assert.Equal(Convert.ToHexString(ek.Unique.Span), Convert.ToHexString(rsa!.ExportParameters(false).Modulus!));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task EnsureKeys_WhenADifferentKeyIsAtTheEkHandle_ReportsIt_AndLeavesItInPlace()
    {
        Swtpm.RequireOrSkip(tools: true);
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        var dir = Directory.CreateTempSubdirectory().FullName;
        try
        {
            (await tpm.ToolAsync("tpm2_createprimary", ["-C", "e", "-G", "rsa2048", "-c", "other.ctx"], workingDirectory: dir, cancellationToken: Ct)).EnsureSuccess("tpm2_createprimary");
            (await tpm.ToolAsync("tpm2_evictcontrol", ["-C", "o", "-c", "other.ctx", "0x81010001"], workingDirectory: dir, cancellationToken: Ct)).EnsureSuccess("tpm2_evictcontrol");
            (await tpm.ToolAsync("tpm2_flushcontext", ["-t"], workingDirectory: dir, cancellationToken: Ct)).EnsureSuccess("tpm2_flushcontext");

            await using (var identity = TpmIdentity.Open(tpm.TransportSpec))
            {
                var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.EnsureKeysAsync(Ct));
                Assert.Contains("0x81010001", error.Message, StringComparison.Ordinal);
                Assert.Contains("left in place", error.Message, StringComparison.Ordinal);
            }

            var handles = await tpm.ToolAsync("tpm2_getcap", ["handles-persistent"], cancellationToken: Ct);
            Assert.Contains("0x81010001", handles.EnsureSuccess("tpm2_getcap").StandardOutput, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }

    [Fact]
    public async Task Identity_AfterAPowerCycle_SendsStartup_AndFindsItsKeys()
    {
        Swtpm.RequireOrSkip();
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        byte[] ek;
        await using (var identity = TpmIdentity.Open(tpm.TransportSpec))
        {
            ek = await identity.GetEndorsementKeyAsync(Ct);
        }

        await tpm.PowerCycleAsync(Ct);

        await using var recorder = new RecordingTpmTransport(TpmTransport.Open(tpm.TransportSpec));
        await using (var identity = new TpmIdentity(recorder, ownsTransport: false))
        {
            Assert.Equal(ek, await identity.GetEndorsementKeyAsync(Ct));
        }

        // The first command finds the TPM not started (TPM_RC_INITIALIZE): Startup(CLEAR) is sent, then the command again.
        Assert.Equal(TpmCommandCode.ReadPublic, recorder.Exchanges[0].CommandCode);
        Assert.Equal(TpmResponseCode.Initialize, recorder.Exchanges[0].ResponseCode);
        var startup = recorder.Exchanges[1];
        Assert.Equal(TpmCommandCode.Startup, startup.CommandCode);
        Assert.Equal(TpmResponseCode.Success, startup.ResponseCode); // a power cycle needs Startup, and it was sent
        Assert.Equal(TpmCommandCode.ReadPublic, recorder.Exchanges[2].CommandCode);
        Assert.Equal(TpmResponseCode.Success, recorder.Exchanges[2].ResponseCode);
    }

    [Fact]
    public async Task Sign_WithoutAnIdentityKey_SaysToActivateFirst()
    {
        Swtpm.RequireOrSkip();
        await using var tpm = await SwtpmInstance.StartNewAsync(cancellationToken: Ct);
        await using var identity = TpmIdentity.Open(tpm.TransportSpec);
        var error = await Assert.ThrowsAsync<TpmException>(async () => await identity.SignAsync(new byte[10], Ct));
        Assert.Contains("activate", error.Message, StringComparison.Ordinal);
        Assert.Equal(TpmResponseCode.Handle, error.BaseResponseCode);
    }

    /// <summary>RFC 4648 base32, lowercase, unpadded, written here independently of the library.</summary>
    internal static string Base32Lower(byte[] data)
    {
        const string alphabet = "abcdefghijklmnopqrstuvwxyz234567";
        var bits = string.Concat(data.Select(b => Convert.ToString(b, 2).PadLeft(8, '0')));
        bits = bits.PadRight((bits.Length + 4) / 5 * 5, '0');
        return string.Concat(Enumerable.Range(0, bits.Length / 5).Select(i => alphabet[Convert.ToInt32(bits.Substring(i * 5, 5), 2)]));
    }
}
